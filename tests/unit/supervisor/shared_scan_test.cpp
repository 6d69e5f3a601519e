#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <vector>

#include "fixture.hpp"
#include "harness.hpp"
#include "pid_guard.hpp"
#include "tagged_fixture.hpp"
#include "reins/async/process.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/async/timer.hpp"
#include "reins/supervisor/ended_run.hpp"
#include "reins/supervisor/process_table.hpp"
#include "reins/supervisor/process_tree.hpp"
#include "reins/supervisor/shared_scan.hpp"
#include "reins/supervisor/subreaper.hpp"

using namespace reins;
using namespace reins::test;
using namespace reins::supervisor;

namespace {

bool contains(const std::vector<ProcessRef>& refs, pid_t pid) {
    return std::any_of(refs.begin(), refs.end(), [pid](const ProcessRef& r) { return r.pid == pid; });
}

// Waits (generously) until `pid` is gone and no longer our child (reaped).
Task<bool> wait_reaped(pid_t pid) {
    for (int i = 0; i < 500; ++i) {
        auto st = read_proc_stat(pid);
        if (!st || st->ppid != ::getpid()) co_return true;
        co_await sleep(10ms);
    }
    co_return false;
}

Task<void> ask(ScanRequest request, ServiceProcesses* out) { *out = co_await scan_shared(std::move(request)); }

}  // namespace

TEST_SUITE("shared_scan") {
    TEST_CASE("a ProcessTable answers what scan_service finds; environments older than the run are not read") {
        run_test([](std::stop_token) -> Task<void> {
            PidGuard guard;
            const std::string id = unique_instance("shared-scan-test");
            auto p = spawn_fixture(id, {"--grandchild-mode", "setsid"});
            REQUIRE(p.has_value());
            Stream out = p->take_stdout();
            pid_t g = co_await read_grandchild_pid(&out);
            guard.pids.push_back(g);
            REQUIRE(g > 1);
            auto since = process_start_time(p->pid());
            REQUIRE(since.has_value());

            auto direct = scan_service(p->pid(), id, *since);
            CHECK(direct.in_group == std::vector<ProcessRef>{ProcessRef{p->pid(), *since}});
            CHECK(contains(direct.outside, g));
            CHECK(direct.outside.size() == 1);
            const ProcessTable table = ProcessTable::read(*since);
            CHECK(table.size() > 2);
            auto shared = table.service(p->pid(), id, *since);
            CHECK(shared.in_group == direct.in_group);
            CHECK(shared.outside == direct.outside);
            CHECK(scan_service(p->pid(), id).outside == direct.outside);  // no start time: every environment

            // A tag on a process older than the run is not looked for: none can have inherited it.
            auto g_start = process_start_time(g);
            REQUIRE(g_start.has_value());
            CHECK(scan_service(p->pid(), id, *g_start + 1).outside.empty());
            CHECK(table.service(p->pid(), id, *g_start + 1).outside.empty());
            CHECK(table.service(p->pid(), id, *g_start + 1).in_group == direct.in_group);
            CHECK(table.service(0, "", 0).empty());
        });
    }

    TEST_CASE("services asking in the same turn share one pass, and each gets its own processes") {
        run_test([](std::stop_token) -> Task<void> {
            PidGuard guard;
            const std::string id1 = unique_instance("shared-scan-test"), id2 = unique_instance("shared-scan-test");
            auto p1 = spawn_fixture(id1, {"--grandchild-mode", "setsid"});
            auto p2 = spawn_fixture(id2, {"--grandchild-mode", "setsid"});
            REQUIRE(p1.has_value());
            REQUIRE(p2.has_value());
            Stream out1 = p1->take_stdout(), out2 = p2->take_stdout();
            pid_t g1 = co_await read_grandchild_pid(&out1);
            pid_t g2 = co_await read_grandchild_pid(&out2);
            guard.pids = {g1, g2};
            REQUIRE(g1 > 1);
            REQUIRE(g2 > 1);
            auto s1 = process_start_time(p1->pid()), s2 = process_start_time(p2->pid());
            REQUIRE(s1.has_value());
            REQUIRE(s2.has_value());

            ServiceProcesses r1, r2;
            TaskScope scope = TaskScope::shielded();
            scope.spawn(ask(ScanRequest{p1->pid(), id1, *s1, false}, &r1));
            scope.spawn(ask(ScanRequest{p2->pid(), id2, *s2, false}, &r2));
            co_await scope.join();
            CHECK(r1.in_group == std::vector<ProcessRef>{ProcessRef{p1->pid(), *s1}});
            CHECK(r1.outside == std::vector<ProcessRef>{ProcessRef{g1, *process_start_time(g1)}});
            CHECK(r2.in_group == std::vector<ProcessRef>{ProcessRef{p2->pid(), *s2}});
            CHECK(r2.outside == std::vector<ProcessRef>{ProcessRef{g2, *process_start_time(g2)}});
        });
    }

    TEST_CASE("an ended run is taken for gone only once nothing carrying its tag is left below us") {
        run_test([](std::stop_token) -> Task<void> {
            PidGuard guard;
            const std::string id = unique_instance("shared-scan-test");
            auto p = spawn_fixture(id, {"--grandchild-mode", "setsid"});
            REQUIRE(p.has_value());
            const pid_t pgid = p->pid();
            auto since = process_start_time(pgid);
            REQUIRE(since.has_value());
            Stream out = p->take_stdout();
            pid_t g = co_await read_grandchild_pid(&out);
            guard.pids.push_back(g);
            REQUIRE(g > 1);
            CHECK(p->signal(SIGTERM).has_value());
            auto st = co_await p->wait();
            REQUIRE(st.has_value());
            // Not a subreaper: the grandchild went to another reaper, out of our sight.
            if (!adopts_orphans()) CHECK_FALSE(ended_run_left_nothing(pgid, id, *since));

            auto s = Subreaper::enable();
            REQUIRE(s.has_value());
            CHECK(adopts_orphans());
            const std::string id2 = unique_instance("shared-scan-test");
            auto p2 = spawn_fixture(id2, {"--grandchild-mode", "setsid"});
            REQUIRE(p2.has_value());
            const pid_t pgid2 = p2->pid();
            auto since2 = process_start_time(pgid2);
            REQUIRE(since2.has_value());
            Stream out2 = p2->take_stdout();
            pid_t g2 = co_await read_grandchild_pid(&out2);
            guard.pids.push_back(g2);
            REQUIRE(g2 > 1);
            CHECK(p2->signal(SIGTERM).has_value());
            auto st2 = co_await p2->wait();
            REQUIRE(st2.has_value());
            // The setsid'd grandchild, adopted by us, carries the run's tag.
            CHECK_FALSE(ended_run_left_nothing(pgid2, id2, *since2));
            // A child started since the run began without any tag may have
            // tagged children of its own: no conclusion either.
            ProcessOptions o;
            o.argv = {fixture_path(), "--no-listen"};
            o.env = env_with_instance("");
            auto bare = Process::spawn(std::move(o));
            REQUIRE(bare.has_value());
            CHECK_FALSE(ended_run_left_nothing(pgid2, id2, *since2));
            CHECK(bare->signal(SIGKILL).has_value());
            auto bare_st = co_await bare->wait();
            CHECK(bare_st.has_value());
            CHECK_FALSE(ended_run_left_nothing(pgid2, id2, *since2));  // the grandchild still lives

            auto gref = process_ref(g2);
            REQUIRE(gref.has_value());
            CHECK(signal_process(*gref, SIGKILL).has_value());
            bool reaped = co_await wait_reaped(g2);
            REQUIRE(reaped);
            CHECK(ended_run_left_nothing(pgid2, id2, *since2));
            CHECK_FALSE(ended_run_left_nothing(pgid2, "", *since2));  // nothing to go by
            CHECK_FALSE(ended_run_left_nothing(pgid2, id2, 0));
        });
    }
}
