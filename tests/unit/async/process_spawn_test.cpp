// Process::spawn: what it refuses (naming the program or the cwd), the
// child's environment and cwd, and its stdin, stdout and stderr pipes.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "harness.hpp"
#include "process_harness.hpp"
#include "reins/async/process.hpp"

using namespace reins;
using namespace reins::test;

TEST_SUITE("process") {
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
            auto got = co_await read_outputs_and_wait(&*p, &out, &err);
            CHECK(got.out == "hello world\n/\nunset\n");
            CHECK(got.err == "oops\n");
            REQUIRE(got.exit.has_value());
            CHECK(got.exit->success());
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
}
