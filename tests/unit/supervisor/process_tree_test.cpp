#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
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
#include "reins/async/timer.hpp"
#include "reins/supervisor/notify_sender.hpp"
#include "reins/supervisor/process_children.hpp"
#include "reins/supervisor/process_tree.hpp"

using namespace reins;
using namespace reins::test;
using namespace reins::supervisor;

namespace {

bool contains(const std::vector<ProcessRef>& refs, pid_t pid) {
    return std::any_of(refs.begin(), refs.end(), [pid](const ProcessRef& r) { return r.pid == pid; });
}

std::size_t count(const std::vector<ProcessRef>& refs, pid_t pid) {
    return static_cast<std::size_t>(
        std::count_if(refs.begin(), refs.end(), [pid](const ProcessRef& r) { return r.pid == pid; }));
}

// Waits (generously) until `ref` is no longer a live process.
Task<bool> wait_dead(ProcessRef ref) {
    for (int i = 0; i < 500; ++i) {
        if (!process_alive(ref)) co_return true;
        co_await sleep(10ms);
    }
    co_return false;
}

}  // namespace

TEST_SUITE("process_tree") {
    TEST_CASE("/proc/PID/stat is parsed after the last ')'") {
        auto st = parse_proc_stat(
            "4242 (a) b (c)) S 7 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 50");
        REQUIRE(st.has_value());
        CHECK(st->state == 'S');
        CHECK(st->ppid == 7);
        CHECK(st->pgrp == 4242);
        CHECK(st->session == 4242);
        CHECK(st->start_time == 987654);
        CHECK_FALSE(parse_proc_stat("4242 (truncated) S 1 2").has_value());
        CHECK_FALSE(parse_proc_stat("no parenthesis").has_value());

        auto self = process_start_time(::getpid());
        REQUIRE(self.has_value());
        CHECK(*self > 0);
        auto again = process_ref(::getpid());
        REQUIRE(again.has_value());
        CHECK(again->start_time == *self);
        auto missing = process_start_time(0x3ffffff0);  // above pid_max
        REQUIRE_FALSE(missing.has_value());
        CHECK(missing.error().message().find("/proc/1073741808/stat") != std::string::npos);
    }

    TEST_CASE("a setsid'd double-forked grandchild is found by its REINS_INSTANCE, not by group") {
        run_test([](std::stop_token) -> Task<void> {
            PidGuard guard;
            const std::string id = unique_instance("tree-test");
            auto p = spawn_fixture(id, {"--grandchild-mode", "setsid"});
            REQUIRE(p.has_value());
            Stream out = p->take_stdout();
            pid_t g = co_await read_grandchild_pid(&out);
            guard.pids.push_back(g);
            REQUIRE(g > 1);
            auto gst = read_proc_stat(g);
            REQUIRE(gst.has_value());
            CHECK(gst->pgrp == g);  // its own session and group
            CHECK(gst->session == g);

            auto by_instance = find_instance_processes(id);
            CHECK(contains(by_instance, g));
            CHECK(contains(by_instance, p->pid()));
            CHECK(by_instance.size() == 2);
            CHECK_FALSE(contains(find_group_processes(p->pid()), g));
            CHECK(contains(find_group_processes(p->pid()), p->pid()));

            auto all = service_processes(p->pid(), id);
            CHECK(all.size() == 2);
            CHECK(count(all, g) == 1);
            CHECK(count(all, p->pid()) == 1);
            CHECK_FALSE(contains(all, ::getpid()));

            // Apart by how a signal reaches them: the group at once, the rest each.
            int seen_in_group = 0, seen_outside = 0;
            auto split = scan_service(p->pid(), id, [&](const ProcessRef&, bool in_group) {
                ++(in_group ? seen_in_group : seen_outside);
            });
            CHECK(contains(split.in_group, p->pid()));
            CHECK(split.in_group.size() == 1);
            CHECK(contains(split.outside, g));
            CHECK(split.outside.size() == 1);
            CHECK(seen_in_group == 1);  // each seen once, as found
            CHECK(seen_outside == 1);

            // Whole entries only: a prefix of the id, or another id, finds nothing.
            CHECK(find_instance_processes(id.substr(0, id.size() - 1)).empty());
            CHECK(find_instance_processes(id + "x").empty());
            CHECK(find_instance_processes("").empty());
        });
    }

    TEST_CASE("a double-forked grandchild in the group is listed once") {
        run_test([](std::stop_token) -> Task<void> {
            PidGuard guard;
            const std::string id = unique_instance("tree-test");
            auto p = spawn_fixture(id, {"--grandchild-mode", "double-fork"});
            REQUIRE(p.has_value());
            Stream out = p->take_stdout();
            pid_t g = co_await read_grandchild_pid(&out);
            guard.pids.push_back(g);
            REQUIRE(g > 1);
            CHECK(contains(find_group_processes(p->pid()), g));
            CHECK(contains(find_instance_processes(id), g));
            auto all = service_processes(p->pid(), id);
            CHECK(all.size() == 2);
            CHECK(count(all, g) == 1);
        });
    }

    TEST_CASE("a plain grandchild is found by process group") {
        run_test([](std::stop_token) -> Task<void> {
            PidGuard guard;
            auto p = spawn_fixture("", {"--grandchild-mode", "plain"});
            REQUIRE(p.has_value());
            Stream out = p->take_stdout();
            pid_t g = co_await read_grandchild_pid(&out);
            guard.pids.push_back(g);
            REQUIRE(g > 1);
            auto group = find_group_processes(p->pid());
            CHECK(group.size() == 2);
            CHECK(contains(group, g));
            CHECK(contains(group, p->pid()));
            auto gst = read_proc_stat(g);
            REQUIRE(gst.has_value());
            CHECK(gst->ppid == p->pid());
            CHECK(find_group_processes(0).empty());
            CHECK(find_group_processes(1).empty());
        });
    }

    TEST_CASE("signal_process refuses a pid whose start time differs") {
        run_test([](std::stop_token) -> Task<void> {
            ProcessOptions o;
            o.argv = {"/bin/sleep", "100"};
            auto p = Process::spawn(std::move(o));
            REQUIRE(p.has_value());
            auto ref = process_ref(p->pid());
            REQUIRE(ref.has_value());

            ProcessRef fake{p->pid(), ref->start_time + 1};
            auto r = signal_process(fake, SIGKILL);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().is(Errc::exited));
            CHECK(r.error().message().find("reused") != std::string::npos);
            CHECK(r.error().message().find(std::to_string(p->pid())) != std::string::npos);
            CHECK_FALSE(process_alive(fake));
            CHECK(signal_all({fake}, SIGKILL) == 0);
            co_await sleep(50ms);
            CHECK(process_alive(*ref));
            CHECK_FALSE(p->exited());

            auto bad = signal_process(ProcessRef{1, 1}, SIGTERM);
            REQUIRE_FALSE(bad.has_value());
            CHECK_FALSE(bad.error().is(Errc::exited));
            CHECK_FALSE(signal_process(ProcessRef{0, 0}, SIGTERM).has_value());

            auto ok = signal_process(*ref, SIGTERM);
            CHECK_MESSAGE(ok.has_value(), (ok ? std::string() : ok.error().message()));
            auto st = co_await p->wait();
            REQUIRE(st.has_value());
            CHECK(st->signal == SIGTERM);

            // Reaped by libuv: the same ref is refused now.
            auto late = signal_process(*ref, SIGTERM);
            REQUIRE_FALSE(late.has_value());
            CHECK(late.error().is(Errc::exited));
            CHECK_FALSE(process_alive(*ref));
        });
    }

    TEST_CASE("signal_all reaches the group and the setsid'd grandchild; SIGKILL leaves none alive") {
        run_test([](std::stop_token) -> Task<void> {
            PidGuard guard;
            const std::string id = unique_instance("tree-test");
            auto p = spawn_fixture(id, {"--ignore-term", "--grandchild-mode", "setsid", "--grandchild-ignore-term"});
            REQUIRE(p.has_value());
            Stream out = p->take_stdout();
            pid_t g = co_await read_grandchild_pid(&out);
            guard.pids.push_back(g);
            REQUIRE(g > 1);
            auto refs = service_processes(p->pid(), id);
            REQUIRE(refs.size() == 2);

            CHECK(signal_all(refs, SIGTERM) == 2);  // both ignore it
            co_await sleep(50ms);
            CHECK(signal_all(refs, 0) == 2);
            CHECK_FALSE(p->exited());

            CHECK(signal_all(refs, SIGKILL) == 2);
            auto st = co_await p->wait();
            REQUIRE(st.has_value());
            CHECK(st->signal == SIGKILL);
            for (const auto& ref : refs) {
                bool dead = co_await wait_dead(ref);
                CHECK_MESSAGE(dead, "pid " << ref.pid << " still alive");
            }
            CHECK(service_processes(p->pid(), id).empty());
            CHECK(signal_all(refs, SIGKILL) == 0);
        });
    }
}

TEST_SUITE("process_tree") {
    TEST_CASE("an sd_notify sender belongs to the service by main pid, group, ancestry or REINS_INSTANCE") {
        run_test([](std::stop_token) -> Task<void> {
            PidGuard guard;
            const std::string id = unique_instance("tree-test");
            // A setsid'd double-forked grandchild: not in the group, not a
            // descendant any more (re-parented), but it carries the instance.
            auto p = spawn_fixture(id, {"--grandchild-mode", "setsid"});
            REQUIRE(p.has_value());
            Stream out = p->take_stdout();
            pid_t g = co_await read_grandchild_pid(&out);
            guard.pids.push_back(g);
            REQUIRE(g > 1);
            ServiceProcessIds ids{p->pid(), true, p->pid(), 0, true, id};
            CHECK(is_service_process(p->pid(), ids));
            CHECK(is_service_process(g, ids));
            const std::string other_id = id + "x";
            ServiceProcessIds other_run{p->pid(), true, p->pid(), 0, true, other_id};
            CHECK_FALSE(is_service_process(g, other_run));
            CHECK(is_service_process(p->pid(), other_run));
            ServiceProcessIds handed{0, false, p->pid(), g, true, "another-instance"};  // MAINPID=g
            CHECK(is_service_process(g, handed));
            // Nobody else: not reins, not its parent, not init, not "no credentials".
            CHECK_FALSE(is_service_process(::getpid(), ids));
            CHECK_FALSE(is_service_process(::getppid(), ids));
            CHECK_FALSE(is_service_process(1, ids));
            CHECK_FALSE(is_service_process(0, ids));
            CHECK_FALSE(is_service_process(0x3ffffff0, ids));  // no such process
        });
    }

    TEST_CASE("an sd_notify sender in a session of its own is the service's while it descends from the main pid") {
        run_test([](std::stop_token) -> Task<void> {
            PidGuard guard;
            ProcessOptions o;
            // No REINS_INSTANCE, another session: only the parent chain links it.
            o.argv = {"/bin/sh", "-c", "setsid sleep 30 >/dev/null 2>&1 & echo $!; exec >&-; wait"};
            o.env = env_with_instance("");
            auto p = Process::spawn(std::move(o));
            REQUIRE(p.has_value());
            Stream out = p->take_stdout();
            std::string text;
            for (;;) {
                auto r = co_await out.read();
                if (!r) break;
                text.append(*r);
            }
            pid_t job = static_cast<pid_t>(std::atoi(text.c_str()));
            guard.pids.push_back(job);
            REQUIRE(job > 1);
            // setsid may not have run yet: wait until it has its own session.
            for (int i = 0; i < 500; ++i) {
                auto st = read_proc_stat(job);
                if (st && st->session == job) break;
                co_await sleep(10ms);
            }
            auto st = read_proc_stat(job);
            REQUIRE(st.has_value());
            CHECK(st->pgrp == job);
            CHECK(is_service_process(job, ServiceProcessIds{p->pid(), true, p->pid(), 0, true, ""}));
            // Once the main process is reaped, a chain through its pid proves nothing...
            CHECK_FALSE(is_service_process(job, ServiceProcessIds{p->pid(), false, p->pid(), 0, true, ""}));
            // ...but a message from that pid itself was sent while it lived.
            CHECK(is_service_process(p->pid(), ServiceProcessIds{p->pid(), false, p->pid(), 0, true, ""}));
            CHECK(::kill(job, SIGKILL) == 0);
            auto ended = co_await p->wait();
            CHECK(ended.has_value());
        });
    }

    TEST_CASE("descendants_outside follows parents to a setsid'd child without environment") {
        run_test([](std::stop_token) -> Task<void> {
            PidGuard guard;  // the stray, which no group kill reaches
            ProcessOptions o;
            // No REINS_INSTANCE, another session and group: only its parent links it.
            o.argv = {"/bin/sh", "-c", "env -i setsid sleep 30 & echo $!; exec sleep 30"};
            o.env = env_with_instance("");
            auto p = Process::spawn(std::move(o));
            REQUIRE(p.has_value());  // the Process kills its group when destroyed
            Stream out = p->take_stdout();
            std::string text;
            while (text.find('\n') == std::string::npos) {
                auto r = co_await out.read();
                if (!r) break;
                text.append(*r);
            }
            const pid_t stray = static_cast<pid_t>(std::atoi(text.c_str()));
            REQUIRE(stray > 1);
            guard.pids.push_back(stray);
            for (int i = 0; i < 300; ++i) {
                auto st = read_proc_stat(stray);
                if (st && st->session == stray) break;
                co_await sleep(10ms);
            }
            auto main = process_ref(p->pid());
            REQUIRE(main.has_value());
            CHECK_FALSE(contains(service_processes(p->pid(), ""), stray));  // no scan finds it
            auto below = descendants_outside({*main}, {*main});
            CHECK(contains(below, stray));
            CHECK(count(below, stray) == 1);
            CHECK_FALSE(contains(below, p->pid()));  // known ones are not repeated
            CHECK(descendants_outside({*main}, {*main, *process_ref(stray)}).empty());
            // A root that is gone is not walked (its pid may name another process).
            CHECK(descendants_outside({ProcessRef{p->pid(), main->start_time + 1}}, {}).empty());
        });
    }
}
