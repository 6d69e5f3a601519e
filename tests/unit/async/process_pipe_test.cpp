// Process stdio pipes: real pipes (FIFOs), as in a shell pipeline, whose
// child ends the parent does not keep and no other child inherits.
#include <doctest/doctest.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <string>
#include <vector>

#include "harness.hpp"
#include "process_harness.hpp"
#include "reins/async/process.hpp"

using namespace reins;
using namespace reins::test;

namespace {

// "pipe:[INODE]", as /proc/PID/fd/N links name the pipe behind a Stream.
std::string pipe_link(const Stream& s) {
    uv_os_fd_t fd = -1;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(s.uv()), &fd) != 0) return "no fd";
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) return "not a pipe";
    return "pipe:[" + std::to_string(st.st_ino) + "]";
}

// The targets of this process's open fds.
std::vector<std::string> own_fd_links() {
    std::vector<std::string> links;
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) return links;
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        char buf[256];
        ssize_t n = ::readlinkat(::dirfd(d), e->d_name, buf, sizeof buf);
        if (n > 0) links.emplace_back(buf, static_cast<std::size_t>(n));
    }
    ::closedir(d);
    return links;
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
    return n;
}

}  // namespace

TEST_SUITE("process") {
    TEST_CASE("stdout and stderr are FIFOs the child can reopen by path") {
        run_test([](std::stop_token) -> Task<void> {
            // Under a socketpair `test -p` fails and `> /dev/stdout` is ENXIO.
            auto p = Process::spawn(sh("test -p /dev/stdout && echo out-fifo; test -p /dev/stderr && echo err-fifo >&2;"
                                       "echo out-path > /dev/stdout && echo err-path > /dev/stderr"));
            REQUIRE(p.has_value());
            GroupGuard guard(p->pid());
            Stream out = p->take_stdout();
            Stream err = p->take_stderr();
            auto got = co_await read_outputs_and_wait(&*p, &out, &err);
            CHECK(got.out == "out-fifo\nout-path\n");
            CHECK(got.err == "err-fifo\nerr-path\n");
            REQUIRE(got.exit.has_value());
            CHECK(got.exit->success());
        });
    }

    TEST_CASE("a stdin pipe is a FIFO too, read through /dev/stdin") {
        run_test([](std::stop_token) -> Task<void> {
            auto o = sh("test -p /dev/stdin && echo in-fifo; cat /dev/stdin");
            o.in = Stdio::pipe;
            o.err = Stdio::null;
            auto p = Process::spawn(std::move(o));
            REQUIRE(p.has_value());
            GroupGuard guard(p->pid());
            Stream in = p->take_stdin();
            Stream out = p->take_stdout();
            REQUIRE(in);
            auto w = co_await in.write("ping\n");
            CHECK(w.has_value());
            in.close();
            auto text = co_await read_all(&out);
            CHECK(text == "in-fifo\nping\n");
            auto r = co_await p->wait();
            REQUIRE(r.has_value());
            CHECK(r->success());
        });
    }

    TEST_CASE("each pipe has one end in the parent and one in the child, blocking there") {
        run_test([](std::stop_token) -> Task<void> {
            // The child lists what its fds are; fdinfo/1 shows the flags of its stdout.
            auto p = Process::spawn(sh("for f in /proc/$$/fd/*; do readlink \"$f\"; done; cat /proc/$$/fdinfo/1; sleep 30"));
            REQUIRE(p.has_value());
            GroupGuard guard(p->pid());
            Stream out = p->take_stdout();
            Stream err = p->take_stderr();
            const std::string out_pipe = pipe_link(out);
            const std::string err_pipe = pipe_link(err);
            REQUIRE(out_pipe.rfind("pipe:[", 0) == 0);
            REQUIRE(err_pipe.rfind("pipe:[", 0) == 0);
            // The parent holds only its own end of each (the child's were closed after the spawn).
            std::size_t mine_out = 0, mine_err = 0;
            for (const auto& l : own_fd_links()) {
                mine_out += l == out_pipe;
                mine_err += l == err_pipe;
            }
            CHECK(mine_out == 1);
            CHECK(mine_err == 1);
            std::string text;
            while (text.find("flags:") == std::string::npos || text.find('\n', text.find("flags:")) == std::string::npos) {
                auto r = co_await out.read();
                if (!r) break;
                text.append(*r);
            }
            // The child holds only its fd 1 and 2 of them, not the parent's ends.
            CHECK_MESSAGE(count(text, out_pipe + "\n") == 1, text);
            CHECK_MESSAGE(count(text, err_pipe + "\n") == 1, text);
            // Its stdout is blocking: O_NONBLOCK (04000) is the parent's alone.
            auto flags_at = text.find("flags:");
            REQUIRE(flags_at != std::string::npos);
            unsigned long flags = std::stoul(text.substr(flags_at + 6), nullptr, 8);
            CHECK_MESSAGE((flags & 04000) == 0, text);
            auto s = p->signal(SIGKILL);
            CHECK(s.has_value());
            auto r = co_await p->wait();
            CHECK(r.has_value());
        });
    }

    TEST_CASE("a failed spawn leaves no pipe open") {
        run_test([](std::stop_token) -> Task<void> {
            // The loop's first stream opens libuv's reserve fd (for EMFILE), kept until the loop closes.
            Stream first = Stream::new_pipe();
            const auto before = own_fd_links();
            ProcessOptions o;
            o.argv = {"./reins-no-such-program"};
            o.in = Stdio::pipe;
            auto p = Process::spawn(std::move(o));
            REQUIRE_FALSE(p.has_value());
            const auto after = own_fd_links();
            std::string fds;
            for (const auto& l : after) fds += l + " ";
            CHECK_MESSAGE(after.size() == before.size(), "open fds: " << fds);
            co_return;
        });
    }
}
