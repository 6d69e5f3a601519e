#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness.hpp"
#include "reins/async/process.hpp"

using namespace reins;
using namespace reins::test;

namespace {

// SIGKILLs a new-session child's whole process group when the test scope
// ends, even when a check failed or threw. Only for new_session children
// (pgid == their pid): never reins' own group. The group id cannot be reused
// while any member lives, and once the group is empty kill() is ESRCH.
struct GroupGuard {
    int pgid = 0;
    GroupGuard() = default;
    explicit GroupGuard(int p) : pgid(p) {}
    GroupGuard(const GroupGuard&) = delete;
    GroupGuard& operator=(const GroupGuard&) = delete;
    ~GroupGuard() {
        if (pgid > 1) ::kill(-pgid, SIGKILL);
    }
};

ProcessOptions sh(std::string script) {
    ProcessOptions o;
    o.argv = {"/bin/sh", "-c", std::move(script)};
    return o;
}

ProcessOptions cmd(std::vector<std::string> argv) {
    ProcessOptions o;
    o.argv = std::move(argv);
    return o;
}

// Everything the stream delivers until end of stream.
Task<std::string> read_all(Stream* s) {
    std::string out;
    for (;;) {
        auto r = co_await s->read();
        if (!r) {
            CHECK_MESSAGE(r.error().is(Errc::end_of_stream), r.error().message());
            break;
        }
        out.append(*r);
    }
    co_return out;
}

// Reads until the first newline (the line without it).
Task<std::string> read_line(Stream* s) {
    std::string out;
    while (out.find('\n') == std::string::npos) {
        auto r = co_await s->read();
        if (!r) break;
        out.append(*r);
    }
    co_return out.substr(0, out.find('\n'));
}

Task<void> wait_into(Process* p, std::stop_token stop, Result<ExitStatus>* out) {
    *out = co_await p->wait(std::move(stop));
}

// The pid no longer exists at all (reaped, not even a zombie).
bool pid_gone(int pid) { return ::kill(pid, 0) == -1 && errno == ESRCH; }

// The process is gone or a zombie (dead; whoever its parent is reaps it).
bool dead(int pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (!std::getline(f, stat)) return true;
    auto paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

bool has_code(const Error& e, int uv_code) { return e.code == uv_error(uv_code).code; }

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

    TEST_CASE("a child killed by a signal reports the signal") {
        run_test([](std::stop_token) -> Task<void> {
            auto p = Process::spawn(cmd({"/bin/sleep", "100"}));
            REQUIRE(p.has_value());
            GroupGuard guard(p->pid());
            CHECK_FALSE(p->exited());
            auto s = p->signal(SIGTERM);
            CHECK(s.has_value());
            auto r = co_await p->wait();
            REQUIRE(r.has_value());
            CHECK(r->signal == SIGTERM);
            CHECK(r->code == 0);
            CHECK(r->shell_code() == 128 + SIGTERM);
            CHECK_FALSE(r->success());
        });
    }

    TEST_CASE("spawning a missing program is an error naming it") {
        run_test([](std::stop_token) -> Task<void> {
            auto a = Process::spawn(cmd({"./reins-no-such-program"}));
            REQUIRE_FALSE(a.has_value());
            CHECK(has_code(a.error(), UV_ENOENT));
            CHECK(a.error().message().find("./reins-no-such-program") != std::string::npos);

            auto b = Process::spawn(cmd({"reins-no-such-program-in-path"}));
            REQUIRE_FALSE(b.has_value());
            CHECK(has_code(b.error(), UV_ENOENT));
            CHECK(b.error().context.find("reins-no-such-program-in-path") != std::string::npos);

            auto c = Process::spawn(ProcessOptions{});
            REQUIRE_FALSE(c.has_value());
            CHECK(has_code(c.error(), UV_EINVAL));
            co_return;
        });
    }

    TEST_CASE("spawning in a missing cwd is an error naming the cwd") {
        run_test([](std::stop_token) -> Task<void> {
            auto o = cmd({"/bin/true"});
            o.cwd = "/nonexistent/reins-test-cwd";
            auto r = Process::spawn(std::move(o));
            REQUIRE_FALSE(r.has_value());
            CHECK(has_code(r.error(), UV_ENOENT));
            CHECK(r.error().context.find("/nonexistent/reins-test-cwd") != std::string::npos);
            CHECK(r.error().context.find("/bin/true") != std::string::npos);
            co_return;
        });
    }

    TEST_CASE("spawning a file that is not executable fails with EACCES") {
        char path[] = "/tmp/reins-process-test-XXXXXX";
        int fd = ::mkstemp(path);
        REQUIRE(fd >= 0);
        ::close(fd);
        ::chmod(path, 0644);
        static std::string s_path;
        s_path = path;
        run_test([](std::stop_token) -> Task<void> {
            // Also with pipes: exec fails after libuv opened them.
            auto r = Process::spawn(cmd({s_path}));
            REQUIRE_FALSE(r.has_value());
            CHECK(has_code(r.error(), UV_EACCES));
            CHECK(r.error().context.find(s_path) != std::string::npos);
            co_return;
        });
        ::unlink(path);
    }

    TEST_CASE("env and cwd reach the child; stdout and stderr are pipes") {
        run_test([](std::stop_token) -> Task<void> {
            auto o = sh("echo \"$REINS_T\"; pwd; echo oops >&2; echo \"${HOME:-unset}\"");
            o.env = std::vector<std::string>{"REINS_T=hello world", "PATH=/usr/bin:/bin"};
            o.cwd = "/";
            auto p = Process::spawn(std::move(o));
            REQUIRE(p.has_value());
            GroupGuard guard(p->pid());
            Stream out = p->take_stdout();
            Stream err = p->take_stderr();
            REQUIRE(out);
            REQUIRE(err);
            CHECK_FALSE(p->take_stdout());  // taken once
            CHECK_FALSE(p->take_stdin());   // in = null
            auto text = co_await read_all(&out);
            auto etext = co_await read_all(&err);
            CHECK(text == "hello world\n/\nunset\n");
            CHECK(etext == "oops\n");
            auto r = co_await p->wait();
            REQUIRE(r.has_value());
            CHECK(r->success());
        });
    }

    TEST_CASE("without env the child inherits reins' environment") {
        ::setenv("REINS_PROCESS_TEST_INHERIT", "yes", 1);
        run_test([](std::stop_token) -> Task<void> {
            auto p = Process::spawn(sh("echo \"$REINS_PROCESS_TEST_INHERIT\""));
            REQUIRE(p.has_value());
            GroupGuard guard(p->pid());
            Stream out = p->take_stdout();
            auto text = co_await read_all(&out);
            CHECK(text == "yes\n");
            auto r = co_await p->wait();
            CHECK(r.has_value());
        });
        ::unsetenv("REINS_PROCESS_TEST_INHERIT");
    }

    TEST_CASE("output can be read after the exit was observed") {
        run_test([](std::stop_token) -> Task<void> {
            auto p = Process::spawn(sh("echo hi"));
            REQUIRE(p.has_value());
            GroupGuard guard(p->pid());
            auto r = co_await p->wait();
            REQUIRE(r.has_value());
            Stream out = p->take_stdout();
            auto text = co_await read_all(&out);
            CHECK(text == "hi\n");
        });
    }

    TEST_CASE("a stdin pipe feeds the child; closing it gives EOF") {
        run_test([](std::stop_token) -> Task<void> {
            auto o = cmd({"/bin/cat"});
            o.in = Stdio::pipe;
            o.err = Stdio::null;
            auto p = Process::spawn(std::move(o));
            REQUIRE(p.has_value());
            GroupGuard guard(p->pid());
            Stream in = p->take_stdin();
            Stream out = p->take_stdout();
            REQUIRE(in);
            CHECK_FALSE(p->take_stderr());
            auto w = co_await in.write("ping\n");
            CHECK(w.has_value());
            in.close();
            auto text = co_await read_all(&out);
            CHECK(text == "ping\n");
            auto r = co_await p->wait();
            REQUIRE(r.has_value());
            CHECK(r->success());

            // in = null: cat reads /dev/null and ends at once.
            auto q = Process::spawn(cmd({"/bin/cat"}));
            REQUIRE(q.has_value());
            GroupGuard guard2(q->pid());
            Stream qout = q->take_stdout();
            auto qtext = co_await read_all(&qout);
            CHECK(qtext.empty());
            auto qr = co_await q->wait();
            CHECK(qr.has_value());
        });
    }

    TEST_CASE("a new_session child leads its own session and process group") {
        run_test([](std::stop_token) -> Task<void> {
            auto p = Process::spawn(cmd({"/bin/sleep", "100"}));
            REQUIRE(p.has_value());
            GroupGuard guard(p->pid());
            // uv_spawn returns after the exec, so setsid() has happened.
            CHECK(::getpgid(p->pid()) == p->pid());
            CHECK(::getsid(p->pid()) == p->pid());
            CHECK(::getsid(p->pid()) != ::getsid(0));
            auto s = p->signal_group(SIGKILL);
            CHECK(s.has_value());
            auto r = co_await p->wait();
            REQUIRE(r.has_value());
            CHECK(r->signal == SIGKILL);
        });
    }

    TEST_CASE("without new_session the child shares reins' group; signal_group is refused") {
        run_test([](std::stop_token) -> Task<void> {
            auto o = cmd({"/bin/sleep", "100"});
            o.new_session = false;
            auto p = Process::spawn(std::move(o));
            REQUIRE(p.has_value());
            // No GroupGuard: the group is ours. ~Process kills the pid.
            CHECK(::getpgid(p->pid()) == ::getpgid(0));
            auto s = p->signal_group(SIGTERM);
            REQUIRE_FALSE(s.has_value());
            CHECK(has_code(s.error(), UV_EINVAL));
            auto k = p->signal(SIGKILL);
            CHECK(k.has_value());
            auto r = co_await p->wait();
            REQUIRE(r.has_value());
            CHECK(r->signal == SIGKILL);
        });
    }

    TEST_CASE("signal_group reaches a grandchild in the child's group") {
        run_test([](std::stop_token) -> Task<void> {
            auto p = Process::spawn(sh("/bin/sleep 100 & echo $!; wait"));
            REQUIRE(p.has_value());
            GroupGuard guard(p->pid());
            Stream out = p->take_stdout();
            auto line = co_await read_line(&out);
            int grandchild = std::atoi(line.c_str());
            REQUIRE(grandchild > 1);
            CHECK(::getpgid(grandchild) == p->pid());
            auto s = p->signal_group(SIGTERM);
            CHECK(s.has_value());
            auto r = co_await p->wait();
            REQUIRE(r.has_value());
            CHECK(r->signal == SIGTERM);
            // The grandchild was reparented; its new parent reaps it in time.
            for (int i = 0; i < 500 && !dead(grandchild); ++i) (void)co_await sleep(10ms);
            CHECK(dead(grandchild));
        });
    }

    TEST_CASE("signal after the exit fails with exited and sends nothing") {
        run_test([](std::stop_token) -> Task<void> {
            auto p = Process::spawn(cmd({"/bin/true"}));
            REQUIRE(p.has_value());
            GroupGuard guard(p->pid());
            auto alive = p->signal(0);  // a zombie or a live child: either is ours
            CHECK(alive.has_value());
            auto r = co_await p->wait();
            REQUIRE(r.has_value());
            auto s = p->signal(SIGTERM);
            REQUIRE_FALSE(s.has_value());
            CHECK(s.error().is(Errc::exited));
            CHECK(s.error().context.find(std::to_string(p->pid())) != std::string::npos);
            // The group is empty now.
            auto g = p->signal_group(0);
            REQUIRE_FALSE(g.has_value());
            CHECK(has_code(g.error(), UV_ESRCH));
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
