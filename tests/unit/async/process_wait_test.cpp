// Process::wait: the exit status, several and stopped waiters, and the
// Loop reaping every child, even when its Process or waiting frame is destroyed.
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"
#include "process_harness.hpp"
#include "reins/async/process.hpp"

using namespace reins;
using namespace reins::test;

namespace {

Task<void> wait_into(Process* p, std::stop_token stop, Result<ExitStatus>* out) {
    *out = co_await p->wait(std::move(stop));
}

// The pid no longer exists at all (reaped, not even a zombie).
bool pid_gone(int pid) { return ::kill(pid, 0) == -1 && errno == ESRCH; }

}  // namespace

TEST_SUITE("process") {
    TEST_CASE("a normal exit reports its code, at once to later waits") {
        run_test([](std::stop_token) -> Task<void> {
            auto p = Process::spawn(sh("exit 7"));
            REQUIRE(p.has_value());
            GroupGuard guard(p->pid());
            CHECK(p->pid() > 1);
            auto r = co_await p->wait();
            REQUIRE(r.has_value());
            CHECK(r->code == 7);
            CHECK(r->signal == 0);
            CHECK(r->shell_code() == 7);
            CHECK_FALSE(r->success());
            CHECK(p->exited());
            CHECK(p->exit_status() == *r);
            auto again = co_await p->wait();
            REQUIRE(again.has_value());
            CHECK(*again == *r);

            auto t = Process::spawn(cmd({"true"}));  // found through PATH
            REQUIRE(t.has_value());
            GroupGuard guard2(t->pid());
            auto rt = co_await t->wait();
            REQUIRE(rt.has_value());
            CHECK(rt->success());
        });
    }

    TEST_CASE("a stopped wait is cancelled; the child runs on and can be awaited again") {
        run_test([](std::stop_token) -> Task<void> {
            auto p = Process::spawn(cmd({"/bin/sleep", "100"}));
            REQUIRE(p.has_value());
            GroupGuard guard(p->pid());

            std::stop_source src;
            Result<ExitStatus> got = fail(Errc::timeout);
            TaskScope scope = TaskScope::shielded();
            scope.spawn(wait_into(&*p, src.get_token(), &got));
            (void)co_await sleep(20ms);
            src.request_stop();
            co_await scope.join();
            REQUIRE_FALSE(got.has_value());
            CHECK(got.error().is(Errc::cancelled));
            CHECK_FALSE(p->exited());
            CHECK(::kill(p->pid(), 0) == 0);

            // A token stopped before the wait: cancelled without suspending.
            auto early = co_await p->wait(src.get_token());
            CHECK(early.error().is(Errc::cancelled));

            auto k = p->signal(SIGKILL);
            CHECK(k.has_value());
            auto r = co_await p->wait();
            REQUIRE(r.has_value());
            CHECK(r->signal == SIGKILL);
        });
    }

    TEST_CASE("several tasks can wait for the same child") {
        run_test([](std::stop_token) -> Task<void> {
            auto p = Process::spawn(sh("sleep 0.05; exit 3"));
            REQUIRE(p.has_value());
            GroupGuard guard(p->pid());
            std::vector<Result<ExitStatus>> got(3, fail(Errc::timeout));
            TaskScope scope = TaskScope::shielded();
            for (auto& g : got) scope.spawn(wait_into(&*p, {}, &g));
            co_await scope.join();
            for (auto& g : got) {
                REQUIRE(g.has_value());
                CHECK(g->code == 3);
            }
        });
    }

    TEST_CASE("destroying a Process kills its child, which the Loop reaps") {
        GroupGuard guard;
        {
            Loop loop;
            auto body = [](int* pid) -> Task<void> {
                auto p = Process::spawn(cmd({"/bin/sleep", "100"}));
                REQUIRE(p.has_value());
                *pid = p->pid();
                co_return;  // ~Process while the child runs
            };
            loop.run(body(&guard.pgid));
            REQUIRE(guard.pgid > 1);
            CHECK(loop.orphans() == 1);
            auto closed = loop.close();
            CHECK_MESSAGE(closed.has_value(), (closed ? std::string() : closed.error().message()));
            CHECK(loop.orphans() == 0);
        }
        CHECK(pid_gone(guard.pgid));  // killed and reaped: not even a zombie
    }

    TEST_CASE("destroying a Process cancels its waiters") {
        static int s_pid = 0;
        run_test([](std::stop_token) -> Task<void> {
            auto p = Process::spawn(cmd({"/bin/sleep", "100"}));
            REQUIRE(p.has_value());
            auto owner = std::make_unique<Process>(std::move(*p));
            s_pid = owner->pid();
            GroupGuard guard(s_pid);
            Result<ExitStatus> got = fail(Errc::timeout);
            TaskScope scope = TaskScope::shielded();
            scope.spawn(wait_into(owner.get(), {}, &got));
            (void)co_await sleep(20ms);
            owner.reset();  // owner dropped while awaited
            co_await scope.join();
            REQUIRE_FALSE(got.has_value());
            CHECK(got.error().is(Errc::cancelled));
        });
        CHECK(pid_gone(s_pid));
    }

    TEST_CASE("destroying a frame suspended in wait() kills and reaps the child") {
        GroupGuard guard;
        {
            Loop loop;
            {
                auto waiter = [](int* pid) -> Task<void> {
                    auto p = Process::spawn(cmd({"/bin/sleep", "100"}));
                    if (!p) co_return;
                    *pid = p->pid();
                    (void)co_await p->wait();
                };
                auto t = waiter(&guard.pgid);
                loop.schedule(t.handle());
                loop.run([]() -> Task<void> { co_return; }());
                CHECK_FALSE(t.done());
                REQUIRE(guard.pgid > 1);
            }  // the frame goes away unresumed: ~WaitAwaiter, then ~Process
            CHECK(loop.orphans() == 1);
            auto closed = loop.close();
            CHECK_MESSAGE(closed.has_value(), (closed ? std::string() : closed.error().message()));
        }
        CHECK(pid_gone(guard.pgid));
    }

    TEST_CASE("an unawaited child does not keep the loop alive: a stuck root is a deadlock") {
        GroupGuard guard;
        {
            Loop loop;
            auto body = [](int* pid) -> Task<void> {
                auto p = Process::spawn(cmd({"/bin/sleep", "100"}));
                if (!p) co_return;
                *pid = p->pid();
                Channel<int> never;
                (void)co_await never.recv();  // nobody sends: a bug to report
            };
            CHECK_THROWS_AS(loop.run(body(&guard.pgid)), Deadlock);
            REQUIRE(guard.pgid > 1);
            auto closed = loop.close();
            CHECK_MESSAGE(closed.has_value(), (closed ? std::string() : closed.error().message()));
        }
        CHECK(pid_gone(guard.pgid));
    }

    TEST_CASE("twenty concurrent children are all reaped") {
        run_test([](std::stop_token) -> Task<void> {
            constexpr int n = 20;
            std::vector<Process> procs;
            std::vector<std::unique_ptr<GroupGuard>> guards;
            for (int i = 0; i < n; ++i) {
                auto o = sh("sleep 0.0" + std::to_string(i % 10) + "; exit " + std::to_string(i));
                o.out = Stdio::null;
                o.err = Stdio::null;
                auto p = Process::spawn(std::move(o));
                REQUIRE(p.has_value());
                guards.push_back(std::make_unique<GroupGuard>(p->pid()));
                procs.push_back(std::move(*p));
            }
            std::vector<Result<ExitStatus>> got(procs.size(), fail(Errc::timeout));
            TaskScope scope = TaskScope::shielded();
            for (std::size_t i = 0; i < procs.size(); ++i) scope.spawn(wait_into(&procs[i], {}, &got[i]));
            co_await scope.join();
            for (std::size_t i = 0; i < procs.size(); ++i) {
                REQUIRE(got[i].has_value());
                CHECK(got[i]->code == static_cast<int64_t>(i));
                CHECK(procs[i].exited());
            }
        });
    }
}
