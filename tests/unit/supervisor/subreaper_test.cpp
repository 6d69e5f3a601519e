#include <doctest/doctest.h>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "fixture.hpp"
#include "harness.hpp"
#include "pid_guard.hpp"
#include "tagged_fixture.hpp"
#include "reins/async/pid_watch.hpp"
#include "reins/async/process.hpp"
#include "reins/async/timer.hpp"
#include "reins/supervisor/process_tree.hpp"
#include "reins/supervisor/subreaper.hpp"

using namespace reins;
using namespace reins::test;
using namespace reins::supervisor;

namespace {

Task<std::string> read_all(Stream* s) {
    std::string out;
    for (;;) {
        auto r = co_await s->read();
        if (!r) break;
        out.append(*r);
    }
    co_return out;
}

// Neither alive nor a zombie as our child: /proc/PID is gone, or the pid
// already belongs to a process that is not our child.
bool reaped_away(pid_t pid) {
    auto st = read_proc_stat(pid);
    return !st || st->ppid != ::getpid();
}

// Waits (generously) until every pid is reaped_away.
Task<bool> wait_reaped(std::vector<pid_t> pids) {
    for (int i = 0; i < 500; ++i) {
        bool all = true;
        for (pid_t pid : pids) all = all && reaped_away(pid);
        if (all) co_return true;
        co_await sleep(10ms);
    }
    co_return false;
}

// Spins (without yielding to the loop) until `pid` is a zombie.
bool wait_zombie_sync(pid_t pid) {
    for (int i = 0; i < 5000; ++i) {
        auto st = read_proc_stat(pid);
        if (st && st->state == 'Z') return true;
        ::usleep(1000);
    }
    return false;
}

int subreaper_flag() {
    int flag = -1;
    ::prctl(PR_GET_CHILD_SUBREAPER, &flag, 0, 0, 0);
    return flag;
}

}  // namespace

TEST_SUITE("subreaper") {
    TEST_CASE("enable sets the subreaper flag; destruction restores it and closes its watcher") {
        // Not inherited across fork(): 0 unless this very process set it.
        REQUIRE(subreaper_flag() == 0);
        run_test([](std::stop_token) -> Task<void> {
            auto s = Subreaper::enable();
            REQUIRE(s.has_value());
            CHECK(subreaper_flag() == 1);
            CHECK(s->reaped() == 0);
            CHECK_FALSE(s->is_init());  // tests never run as PID 1
            Subreaper moved = std::move(*s);
            CHECK(subreaper_flag() == 1);
            CHECK(s->reaped() == 0);  // moved-from: empty, harmless
            {
                Subreaper gone = std::move(moved);
            }
            CHECK(subreaper_flag() == 0);
            co_return;
        });
        CHECK(subreaper_flag() == 0);
    }

    TEST_CASE("an orphan is re-parented to us and reaped; a Process still gets its exit status") {
        run_test([](std::stop_token) -> Task<void> {
            PidGuard guard;
            auto s = Subreaper::enable();
            REQUIRE(s.has_value());
            std::map<pid_t, ExitStatus> seen;
            s->on_reaped([&seen](pid_t pid, const ExitStatus& st) { seen[pid] = st; });

            ProcessOptions o;
            o.argv = {fixture_path(), "--no-listen", "--grandchild-mode", "double-fork"};
            auto p = Process::spawn(std::move(o));
            REQUIRE(p.has_value());
            Stream out = p->take_stdout();
            pid_t g = co_await read_grandchild_pid(&out);
            guard.pids.push_back(g);
            REQUIRE(g > 1);
            // Its parent exited before the fixture printed the line.
            auto gst = read_proc_stat(g);
            REQUIRE(gst.has_value());
            CHECK(gst->ppid == ::getpid());
            CHECK(seen.empty());

            // Both die at once: libuv must still see the fixture's exit.
            auto gref = process_ref(g);
            REQUIRE(gref.has_value());
            CHECK(signal_process(*gref, SIGKILL).has_value());
            CHECK(p->signal(SIGTERM).has_value());
            auto st = co_await p->wait();
            REQUIRE(st.has_value());
            CHECK(st->code == 0);  // the fixture exits 0 on SIGTERM
            CHECK(st->signal == 0);

            std::vector<pid_t> just_g{g};
            bool gone = co_await wait_reaped(std::move(just_g));
            CHECK_MESSAGE(gone, "orphan " << g << " was not reaped");
            CHECK(s->reaped() == 1);
            REQUIRE(seen.count(g) == 1);
            CHECK(seen[g].signal == SIGKILL);
        });
    }

    TEST_CASE("a flood of short-lived orphans leaves no zombie, and concurrent Processes keep their status") {
        run_test(
            [](std::stop_token) -> Task<void> {
                PidGuard guard;
                auto s = Subreaper::enable();
                REQUIRE(s.has_value());
                int callbacks = 0;
                s->on_reaped([&callbacks](pid_t, const ExitStatus& st) {
                    CHECK(st.success());
                    ++callbacks;
                });

                // 50 background sleeps whose subshells exit at once: each sleep
                // is re-parented to us and exits within 0.1-0.5 s.
                ProcessOptions o;
                o.argv = {"/bin/sh", "-c",
                          "i=0; while [ $i -lt 50 ]; do "
                          "(sleep 0.$((i % 5 + 1)) </dev/null >/dev/null 2>&1 & echo $!); i=$((i + 1)); done"};
                auto flood = Process::spawn(std::move(o));
                REQUIRE(flood.has_value());
                std::vector<Process> own;
                for (int i = 0; i < 5; ++i) {
                    ProcessOptions e;
                    e.argv = {"/bin/sh", "-c", "sleep 0.3; exit " + std::to_string(10 + i)};
                    e.out = Stdio::null;
                    e.err = Stdio::null;
                    auto p = Process::spawn(std::move(e));
                    REQUIRE(p.has_value());
                    own.push_back(std::move(*p));
                }
                Stream out = flood->take_stdout();
                std::string text = co_await read_all(&out);
                std::istringstream lines(text);
                std::vector<pid_t> orphans;
                for (pid_t pid; lines >> pid;) orphans.push_back(pid);
                guard.pids = orphans;
                CHECK(orphans.size() == 50);
                auto fst = co_await flood->wait();
                REQUIRE(fst.has_value());
                CHECK(fst->success());

                for (int i = 0; i < 5; ++i) {
                    auto r = co_await own[static_cast<std::size_t>(i)].wait();
                    REQUIRE(r.has_value());
                    CHECK(r->code == 10 + i);
                }
                bool gone = co_await wait_reaped(orphans);
                CHECK_MESSAGE(gone, "some orphans were left as zombies");
                CHECK(s->reaped() == 50);
                CHECK(callbacks == 50);
            },
            30s);
    }

    TEST_CASE("with a libuv child first in line, the zombies behind it are still reaped") {
        run_test([](std::stop_token) -> Task<void> {
            auto s = Subreaper::enable();
            REQUIRE(s.has_value());
            ProcessOptions o;
            o.argv = {"/bin/sh", "-c", "exit 3"};
            auto p = Process::spawn(std::move(o));
            REQUIRE(p.has_value());
            // A child that libuv does not own, forked behind its back.
            pid_t stray = ::fork();
            if (stray == 0) ::_exit(5);
            REQUIRE(stray > 0);
            PidGuard guard;
            guard.pids.push_back(stray);
            // Both are zombies before libuv gets a turn to reap its own.
            CHECK(wait_zombie_sync(p->pid()));
            CHECK(wait_zombie_sync(stray));
            std::map<pid_t, ExitStatus> seen;
            s->on_reaped([&seen](pid_t pid, const ExitStatus& st) { seen[pid] = st; });
            CHECK(s->reap_now() == 1);
            CHECK(reaped_away(stray));
            REQUIRE(seen.count(stray) == 1);
            CHECK(seen[stray].code == 5);
            CHECK_FALSE(reaped_away(p->pid()));  // left to libuv

            auto st = co_await p->wait();
            REQUIRE(st.has_value());
            CHECK(st->code == 3);
            CHECK(s->reaped() == 1);
        });
    }

    TEST_CASE("zombies waiting before enable() are reaped at once") {
        run_test([](std::stop_token) -> Task<void> {
            pid_t stray = ::fork();
            if (stray == 0) ::_exit(9);
            REQUIRE(stray > 0);
            PidGuard guard;
            guard.pids.push_back(stray);
            CHECK(wait_zombie_sync(stray));
            auto s = Subreaper::enable();
            REQUIRE(s.has_value());
            CHECK(s->reaped() == 1);
            CHECK(reaped_away(stray));
            co_return;
        });
    }
}

TEST_SUITE("subreaper") {
    TEST_CASE("a PidWatch on an adopted orphan gets its exit status; the Subreaper leaves it alone") {
        run_test([](std::stop_token) -> Task<void> {
            PidGuard guard;
            auto s = Subreaper::enable();
            REQUIRE(s.has_value());
            std::map<pid_t, ExitStatus> seen;
            s->on_reaped([&seen](pid_t pid, const ExitStatus& st) { seen[pid] = st; });

            // The shell exits at once; its background job is re-parented to us.
            ProcessOptions o;
            o.argv = {"/bin/sh", "-c", "(sleep 1; exit 7) >/dev/null 2>&1 & echo $!"};
            auto p = Process::spawn(std::move(o));
            REQUIRE(p.has_value());
            Stream out = p->take_stdout();
            std::string text = co_await read_all(&out);
            pid_t job = static_cast<pid_t>(std::atoi(text.c_str()));
            guard.pids.push_back(job);
            REQUIRE(job > 1);
            auto st = co_await p->wait();
            REQUIRE(st.has_value());

            auto w = PidWatch::open(job);
            REQUIRE_MESSAGE(w.has_value(), (w ? std::string() : w.error().message()));
            CHECK(w->pid() == job);
            auto ended = co_await w->wait();
            REQUIRE(ended.has_value());
            REQUIRE(ended->has_value());
            CHECK((*ended)->code == 7);
            CHECK((*ended)->signal == 0);
            CHECK(w->exited());
            CHECK(seen.count(job) == 0);  // the watch reaped it, not the Subreaper
            CHECK(reaped_away(job));
            CHECK_FALSE(Loop::current().owns_child(job));  // the claim is released
        });
    }

    TEST_CASE("a PidWatch closed before the exit leaves the orphan to the Subreaper") {
        run_test([](std::stop_token) -> Task<void> {
            PidGuard guard;
            auto s = Subreaper::enable();
            REQUIRE(s.has_value());
            std::map<pid_t, ExitStatus> seen;
            s->on_reaped([&seen](pid_t pid, const ExitStatus& st) { seen[pid] = st; });
            ProcessOptions o;
            o.argv = {"/bin/sh", "-c", "(sleep 1; exit 5) >/dev/null 2>&1 & echo $!"};
            auto p = Process::spawn(std::move(o));
            REQUIRE(p.has_value());
            Stream out = p->take_stdout();
            std::string text = co_await read_all(&out);
            pid_t job = static_cast<pid_t>(std::atoi(text.c_str()));
            guard.pids.push_back(job);
            REQUIRE(job > 1);
            auto st = co_await p->wait();
            REQUIRE(st.has_value());
            {
                auto w = PidWatch::open(job);
                REQUIRE(w.has_value());
                CHECK(Loop::current().owns_child(job));
            }
            CHECK_FALSE(Loop::current().owns_child(job));
            std::vector<pid_t> just{job};
            bool gone = co_await wait_reaped(std::move(just));
            CHECK(gone);
            REQUIRE(seen.count(job) == 1);
            CHECK(seen[job].code == 5);
        });
    }
}
