// How Process::spawn starts a child (posix_spawn, no fork of the test
// process) and reaps it (its pidfd): execvp's lookup and errors, what the
// child inherits and what it does not, and exits that reach us oddly.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "harness.hpp"
#include "reins/async/process.hpp"
#include "reins/async/spawn_child.hpp"
#include "temp_dir.hpp"

using namespace reins;
using namespace reins::test;

namespace {

ProcessOptions sh(std::string script) {
    ProcessOptions o;
    o.argv = {"/bin/sh", "-c", std::move(script)};
    o.out = Stdio::null;
    o.err = Stdio::null;
    return o;
}

// Spawns and awaits; the status, or -100 when the spawn or wait failed.
Task<int64_t> run_to_end(ProcessOptions o) {
    auto p = Process::spawn(std::move(o));
    REQUIRE_MESSAGE(p.has_value(), (p ? std::string() : p.error().message()));
    auto r = co_await p->wait();
    REQUIRE(r.has_value());
    co_return r->signal != 0 ? 128 + r->signal : r->code;
}

bool has_code(const Error& e, int uv_code) { return e.code == uv_error(uv_code).code; }

// The hex mask on a "Name:\t…" line of /proc/PID/status, written to a file.
unsigned long long status_mask(const std::string& status, const char* name) {
    auto at = status.find(std::string(name) + ":\t");
    if (at == std::string::npos) return ~0ULL;
    return std::strtoull(status.c_str() + at + std::strlen(name) + 2, nullptr, 16);
}

}  // namespace

TEST_SUITE("process") {
    TEST_CASE("the program is found in the PATH of the child's environment, as execvp would") {
        TempDir dir("spawn-path");
        std::string mine = dir.write("bin/reins-spawn-probe", "#!/bin/sh\nexit 42\n");
        ::chmod(mine.c_str(), 0755);
        std::string plain = dir.write("plain/reins-spawn-probe", "#!/bin/sh\nexit 1\n");
        ::chmod(plain.c_str(), 0644);
        static TempDir* s_dir;
        s_dir = &dir;
        run_test([](std::stop_token) -> Task<void> {
            TempDir& d = *s_dir;
            ProcessOptions o;
            o.argv = {"reins-spawn-probe"};
            o.out = o.err = Stdio::null;

            // Not in reins' own PATH: only the child's counts.
            auto missing = Process::spawn(o);
            REQUIRE_FALSE(missing.has_value());
            CHECK(has_code(missing.error(), UV_ENOENT));
            CHECK(missing.error().context.find("reins-spawn-probe") != std::string::npos);

            // A non-executable candidate is skipped for a later one...
            o.env = std::vector<std::string>{"PATH=" + (d / "plain") + ":" + (d / "bin")};
            CHECK(co_await run_to_end(o) == 42);
            // ...and is EACCES when it is the only one.
            o.env = std::vector<std::string>{"PATH=/nonexistent:" + (d / "plain")};
            auto denied = Process::spawn(o);
            REQUIRE_FALSE(denied.has_value());
            CHECK(has_code(denied.error(), UV_EACCES));

            // A relative PATH entry is looked up from the child's cwd.
            o.env = std::vector<std::string>{"PATH=bin"};
            o.cwd = d.path;
            CHECK(co_await run_to_end(o) == 42);
        });
    }

    TEST_CASE("without PATH the default /bin:/usr/bin is searched; a missing cwd wins over a missing program") {
        run_test([](std::stop_token) -> Task<void> {
            ProcessOptions o;
            o.argv = {"true"};
            o.env = std::vector<std::string>{"HOME=/"};
            o.out = o.err = Stdio::null;
            CHECK(co_await run_to_end(o) == 0);

            o.argv = {"reins-no-such-program"};
            o.cwd = "/nonexistent/reins-spawn-cwd";
            auto r = Process::spawn(o);
            REQUIRE_FALSE(r.has_value());
            CHECK(has_code(r.error(), UV_ENOENT));
            CHECK(r.error().context.find("/nonexistent/reins-spawn-cwd") != std::string::npos);
        });
    }

    TEST_CASE("a file without #! runs under /bin/sh, with its arguments") {
        TempDir dir("spawn-script");
        std::string script = dir.write("noshebang", "exit $(($1 + 1))\n");
        ::chmod(script.c_str(), 0755);
        static std::string s_script;
        s_script = script;
        run_test([](std::stop_token) -> Task<void> {
            ProcessOptions o;
            o.argv = {s_script, "6"};
            o.out = o.err = Stdio::null;
            CHECK(co_await run_to_end(o) == 7);
        });
    }

    TEST_CASE("the child starts with default signal dispositions and an empty mask") {
        TempDir dir("spawn-signals");
        static std::string s_out;
        s_out = dir / "status";
        // What a host might do: ignore some signals, block others.
        struct sigaction ign {}, old_term {}, old_hup {};
        ign.sa_handler = SIG_IGN;
        ::sigaction(SIGTERM, &ign, &old_term);
        ::sigaction(SIGHUP, &ign, &old_hup);
        sigset_t block, old_mask;
        sigemptyset(&block);
        sigaddset(&block, SIGUSR1);
        sigaddset(&block, SIGINT);
        ::pthread_sigmask(SIG_BLOCK, &block, &old_mask);
        run_test([](std::stop_token) -> Task<void> {
            // cat reads its own status: exec keeps the mask and ignored signals.
            CHECK(co_await run_to_end(sh("exec cat /proc/self/status > " + s_out)) == 0);
        });
        ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
        ::sigaction(SIGTERM, &old_term, nullptr);
        ::sigaction(SIGHUP, &old_hup, nullptr);
        std::string status = dir.read("status");
        INFO(status);
        CHECK(status_mask(status, "SigBlk") == 0);
        // SIGPIPE too: the test binary ignores it, as reins does.
        CHECK(status_mask(status, "SigIgn") == 0);
    }

    TEST_CASE("fds without close-on-exec are inherited, close-on-exec ones are not") {
        TempDir dir("spawn-fds");
        static std::string s_out;
        s_out = dir / "seen";
        int plain = ::open("/dev/null", O_RDONLY);
        int cloexec = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        REQUIRE(::dup2(plain, 60) == 60);
        REQUIRE(::dup3(cloexec, 61, O_CLOEXEC) == 61);
        ::close(plain);
        ::close(cloexec);
        run_test([](std::stop_token) -> Task<void> {
            auto script =
                "for fd in 60 61; do if [ -e /proc/self/fd/$fd ]; then echo $fd:yes; else echo $fd:no; fi; done > " +
                s_out;
            CHECK(co_await run_to_end(sh(script)) == 0);
        });
        ::close(60);
        ::close(61);
        CHECK(dir.read("seen") == "60:yes\n61:no\n");
    }

    TEST_CASE("an inherited stdio fd reaches the child open, without close-on-exec and blocking") {
        TempDir dir("spawn-inherit");
        static std::string s_file;
        s_file = dir / "stderr";
        int file = ::open(s_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        REQUIRE(file >= 0);
        int saved = ::fcntl(2, F_DUPFD_CLOEXEC, 3);
        REQUIRE(::dup3(file, 2, O_CLOEXEC) == 2);  // as uv_disable_stdio_inheritance leaves it
        ::fcntl(2, F_SETFL, ::fcntl(2, F_GETFL) | O_NONBLOCK);
        ::close(file);
        run_test([](std::stop_token) -> Task<void> {
            auto o = sh("grep '^flags' /proc/self/fdinfo/2 >&2");
            o.err = Stdio::inherit;
            CHECK(co_await run_to_end(std::move(o)) == 0);
        });
        ::dup2(saved, 2);
        ::close(saved);
        std::string text = dir.read("stderr");
        INFO(text);
        REQUIRE(text.rfind("flags:\t", 0) == 0);
        const unsigned long flags = std::strtoul(text.c_str() + 7, nullptr, 8);
        CHECK((flags & O_CLOEXEC) == 0);
        CHECK((flags & O_NONBLOCK) == 0);
    }

    TEST_CASE("with reins' stdin closed, a pipe end landing on fd 0 still reaches the child's stdin") {
        TempDir dir("spawn-lowfd");
        static std::string s_out;
        s_out = dir / "copy";
        static int s_saved;
        s_saved = ::fcntl(0, F_DUPFD_CLOEXEC, 3);
        REQUIRE(s_saved >= 0);
        run_test([](std::stop_token) -> Task<void> {
            auto o = sh("cat > " + s_out);
            o.in = Stdio::pipe;
            // Closed once the loop has its own fds (libuv never closes an fd
            // 0-2 of its own); given back after the loop closed.
            ::close(0);
            auto p = Process::spawn(std::move(o));
            REQUIRE_MESSAGE(p.has_value(), (p ? std::string() : p.error().message()));
            Stream in = p->take_stdin();
            auto w = co_await in.write("through fd 0\n");
            CHECK(w.has_value());
            in.close();
            auto r = co_await p->wait();
            REQUIRE(r.has_value());
            CHECK(r->success());
        });
        ::dup2(s_saved, 0);
        ::close(s_saved);
        CHECK(dir.read("copy") == "through fd 0\n");
    }

    TEST_CASE("a parent with a large heap spawns as usual") {
        // 64 MiB, touched: a fork would copy its page tables; posix_spawn does not.
        std::vector<char> heap(std::size_t{64} << 20, 1);
        run_test([](std::stop_token) -> Task<void> {
            for (int i = 0; i < 5; ++i) CHECK(co_await run_to_end(sh("exit 3")) == 3);
        });
        CHECK(heap[heap.size() / 2] == 1);
    }

    TEST_CASE("a host that ignores SIGCHLD still gets its children's statuses") {
        struct sigaction ign {}, old {};
        ign.sa_handler = SIG_IGN;
        ::sigaction(SIGCHLD, &ign, &old);
        run_test([](std::stop_token) -> Task<void> { CHECK(co_await run_to_end(sh("exit 5")) == 5); });
        ::sigaction(SIGCHLD, &old, nullptr);
    }

    TEST_CASE("a child reaped behind reins' back still ends its wait, with the status lost") {
        run_test([](std::stop_token) -> Task<void> {
            auto p = Process::spawn(sh("exit 9"));
            REQUIRE(p.has_value());
            int status = 0;
            REQUIRE(::waitpid(p->pid(), &status, 0) == p->pid());  // someone else's waitpid
            CHECK(WEXITSTATUS(status) == 9);
            auto r = co_await p->wait();
            REQUIRE(r.has_value());
            CHECK(r->code == ExitStatus::lost);
            CHECK(r->signal == 0);
        });
    }

    TEST_CASE("find_program follows execvp: '/' means as is, empty entries are the cwd") {
        std::string out;
        CHECK(detail::find_program("./x", "/bin", nullptr, out) == 0);
        CHECK(out == "./x");
        CHECK(detail::find_program("sh", "/nonexistent::/bin", "/", out) == 0);
        CHECK(out == "/bin/sh");
        CHECK(detail::find_program("bin", "", "/", out) == EACCES);  // "/bin" is a folder
        CHECK(detail::find_program("reins-no-such-program", "/bin:/usr/bin", nullptr, out) == ENOENT);
        CHECK(out.empty());
    }
}
