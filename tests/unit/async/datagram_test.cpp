#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"
#include "reins/async/datagram.hpp"
#include "temp_dir.hpp"

extern char** environ;

using namespace reins;
using namespace reins::test;
using Clock = std::chrono::steady_clock;

namespace {

std::string abstract_name() {
    static int counter = 0;
    return "@reins-test-dgram-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

struct Receive {
    DatagramSocket* sock;
    DatagramSocket::ReceiveAwaiter operator()(std::stop_token s) const { return sock->receive(std::move(s)); }
};

// receive(), bounded in time so a lost message fails the test instead of hanging it.
Task<Result<Datagram>> recv_within(DatagramSocket* s, std::chrono::milliseconds d = 5s) {
    auto r = co_await with_timeout(d, {}, Receive{s});
    co_return r;
}

// Sends `data` to a filesystem socket with `fd` attached (SCM_RIGHTS), as
// sd_notify_barrier() does.
bool send_with_fd(const std::string& path, const std::string& data, int fd) {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
    int s = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return false;
    iovec iov{const_cast<char*>(data.data()), data.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_name = &sun;
    msg.msg_namelen = sizeof sun;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    ssize_t n = ::sendmsg(s, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    ::close(s);
    return n == static_cast<ssize_t>(data.size());
}

// 1 when every write end of the pipe is closed (EOF), 0 while one is still
// open, -1 on any other outcome.
int pipe_eof(int rfd) {
    char c;
    ssize_t n = ::read(rfd, &c, 1);
    if (n == 0) return 1;
    if (n < 0 && errno == EAGAIN) return 0;
    return -1;
}

std::size_t open_fds() {
    std::size_t n = 0;
    for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

std::string find_in_path(const char* prog) {
    const char* p = std::getenv("PATH");
    std::string path = p ? p : "/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find(':', start);
        if (end == std::string::npos) end = path.size();
        std::string cand = path.substr(start, end - start) + "/" + prog;
        if (end > start && ::access(cand.c_str(), X_OK) == 0) return cand;
        start = end + 1;
    }
    return {};
}

// Runs `systemd-notify --ready` against `sock` and checks that reins'
// handling lets it finish: READY=1 arrives, and the BARRIER=1 fd it waits on
// is closed at once, so it exits 0 well before its own 5 s barrier timeout.
Task<void> systemd_notify_ready(std::string prog, DatagramSocket* sock) {
    std::vector<std::string> env_strings{"NOTIFY_SOCKET=" + sock->path()};
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0) env_strings.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string arg0 = prog, arg1 = "--ready";
    char* argv[] = {arg0.data(), arg1.data(), nullptr};

    auto t0 = Clock::now();
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, prog.c_str(), nullptr, nullptr, argv, envp.data());
    REQUIRE(rc == 0);

    std::string log;  // shown only if a check fails
    bool ready = false;
    int status = -1;
    bool exited = false;
    while (Clock::now() - t0 < 8s) {
        auto r = co_await recv_within(sock, 100ms);
        if (r) {
            log += "received \"" + r->data + "\" from pid " + std::to_string(r->pid) + "; ";
            if (contains(r->data, "READY=1")) ready = true;
        }
        if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
        if (exited && ready) break;
    }
    if (!exited) {  // never leave it behind, even when the test fails
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
    }
    INFO(prog << " --ready to " << sock->path() << ": " << log);
    CHECK(ready);
    CHECK(exited);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(Clock::now() - t0 < 4s);  // not released by its own barrier timeout
}

}  // namespace

TEST_SUITE("datagram") {
    TEST_CASE("round trip on a filesystem path, with the sender's credentials") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir dir("dgram");
            std::string path = dir / "notify.sock";
            {
                auto sock = DatagramSocket::bind(path);
                REQUIRE(sock);
                CHECK(sock->path() == path);
                struct stat sb {};
                REQUIRE(::lstat(path.c_str(), &sb) == 0);
                CHECK(S_ISSOCK(sb.st_mode));
                CHECK((sb.st_mode & 0777) == 0600);

                auto sent = DatagramSocket::send_to(path, "READY=1\nSTATUS=up");
                REQUIRE(sent);
                auto r = co_await recv_within(&*sock);
                REQUIRE(r);
                CHECK(r->data == "READY=1\nSTATUS=up");
                CHECK(r->pid == ::getpid());
                CHECK(r->uid == ::getuid());
                CHECK(r->gid == ::getgid());
            }
            CHECK_FALSE(std::filesystem::exists(path));  // the destructor unlinked it
        });
    }

    TEST_CASE("round trip on an abstract name") {
        run_test([](std::stop_token) -> Task<void> {
            std::string name = abstract_name();
            auto sock = DatagramSocket::bind(name);
            REQUIRE(sock);
            CHECK(sock->path() == name);
            CHECK_FALSE(std::filesystem::exists(name));  // no file, not even one named "@..."

            auto again = DatagramSocket::bind(name);
            REQUIRE_FALSE(again);
            CHECK(again.error().code.value() == UV_EADDRINUSE);
            CHECK(contains(again.error().message(), name));

            auto sent = DatagramSocket::send_to(name, "WATCHDOG=1");
            REQUIRE(sent);
            auto r = co_await recv_within(&*sock);
            REQUIRE(r);
            CHECK(r->data == "WATCHDOG=1");
            CHECK(r->pid == ::getpid());
        });
    }

    TEST_CASE("the credentials name the process that sent the message") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir dir("dgram");
            std::string path = dir / "creds.sock";
            auto sock = DatagramSocket::bind(path);
            REQUIRE(sock);
            pid_t child = ::fork();
            REQUIRE(child >= 0);
            if (child == 0) {
                // Only async-signal-safe calls in the forked child.
                sockaddr_un sun{};
                sun.sun_family = AF_UNIX;
                std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
                int s = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                const char msg[] = "READY=1";
                ssize_t n = ::sendto(s, msg, sizeof msg - 1, 0, reinterpret_cast<sockaddr*>(&sun), sizeof sun);
                ::_exit(n == sizeof msg - 1 ? 0 : 1);
            }
            auto r = co_await recv_within(&*sock);
            int status = -1;
            ::waitpid(child, &status, 0);  // it exits at once after sending
            CHECK(WIFEXITED(status));
            CHECK(WEXITSTATUS(status) == 0);
            REQUIRE(r);
            CHECK(r->data == "READY=1");
            CHECK(r->pid == child);
            CHECK(r->pid != ::getpid());
            CHECK(r->uid == ::getuid());
        });
    }

    TEST_CASE("a file descriptor passed with a message is closed at once") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir dir("dgram");
            std::string path = dir / "barrier.sock";
            auto sock = DatagramSocket::bind(path);
            REQUIRE(sock);
            int p[2];
            REQUIRE(::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
            CHECK(send_with_fd(path, "BARRIER=1", p[1]));
            ::close(p[1]);           // the copy in flight keeps the pipe open
            CHECK(pipe_eof(p[0]) == 0);
            auto r = co_await recv_within(&*sock);
            REQUIRE(r);
            CHECK(r->data == "BARRIER=1");
            CHECK(pipe_eof(p[0]) == 1);  // what sd_notify_barrier() waits for
            ::close(p[0]);
        });
    }

    TEST_CASE("an oversized message is dropped whole, its fds closed, and the next one delivered") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir dir("dgram");
            std::string path = dir / "big.sock";
            auto sock = DatagramSocket::bind(path);
            REQUIRE(sock);
            int p[2];
            REQUIRE(::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
            CHECK(send_with_fd(path, std::string(DatagramSocket::max_datagram + 1, 'x'), p[1]));
            ::close(p[1]);
            std::string largest(DatagramSocket::max_datagram, 'y');
            auto s1 = DatagramSocket::send_to(path, largest);
            auto s2 = DatagramSocket::send_to(path, "after");
            CHECK(s1);
            CHECK(s2);
            auto a = co_await recv_within(&*sock);
            auto b = co_await recv_within(&*sock);
            REQUIRE(a);
            REQUIRE(b);
            CHECK(a->data == largest);  // exactly max_datagram still fits
            CHECK(b->data == "after");
            CHECK(sock->dropped() == 1);
            CHECK(pipe_eof(p[0]) == 1);
            ::close(p[0]);
        });
    }

    TEST_CASE("datagrams that arrive before receive() are queued and received in order") {
        run_test([](std::stop_token) -> Task<void> {
            std::string name = abstract_name();
            auto sock = DatagramSocket::bind(name);
            REQUIRE(sock);
            // Fewer than the kernel's default max_dgram_qlen (10).
            for (int i = 0; i < 8; ++i) {
                auto s = DatagramSocket::send_to(name, "m" + std::to_string(i));
                REQUIRE(s);
            }
            (void)co_await sleep(20ms);  // one readiness, several datagrams, nobody receiving
            CHECK(sock->queued() == 8);
            for (int i = 0; i < 8; ++i) {
                auto r = co_await recv_within(&*sock);
                REQUIRE(r);
                CHECK(r->data == "m" + std::to_string(i));
            }
            CHECK(sock->queued() == 0);
        });
    }

    TEST_CASE("a full queue stops reading; senders see backpressure and nothing is lost") {
        run_test([](std::stop_token) -> Task<void> {
            std::string name = abstract_name();
            auto sock = DatagramSocket::bind(name);
            REQUIRE(sock);
            int sent = 0;
            for (int i = 0; i < 5000; ++i) {
                auto s = DatagramSocket::send_to(name, "m" + std::to_string(sent));
                if (!s) {
                    CHECK(s.error().code.value() == UV_EAGAIN);
                    break;
                }
                ++sent;
                if (sent % 4 == 0) (void)co_await sleep(1ms);  // let the socket drain
            }
            CHECK(sock->queued() == DatagramSocket::queue_capacity);
            CHECK(sent > static_cast<int>(DatagramSocket::queue_capacity));
            for (int i = 0; i < sent; ++i) {
                auto r = co_await recv_within(&*sock);
                REQUIRE(r);
                CHECK(r->data == "m" + std::to_string(i));
            }
            auto none = co_await recv_within(&*sock, 50ms);
            CHECK(none.error().is(Errc::timeout));
            CHECK(sock->dropped() == 0);
        });
    }

    TEST_CASE("a stopped receive completes with cancelled; the socket stays usable") {
        run_test([](std::stop_token) -> Task<void> {
            std::string name = abstract_name();
            auto sock = DatagramSocket::bind(name);
            REQUIRE(sock);
            std::stop_source src;
            Result<Datagram> got = fail(Errc::timeout);
            auto receiver = [](DatagramSocket* s, std::stop_token st, Result<Datagram>* out) -> Task<void> {
                *out = co_await s->receive(std::move(st));
            };
            TaskScope scope = TaskScope::shielded();
            auto t0 = Clock::now();
            scope.spawn(receiver(&*sock, src.get_token(), &got));
            (void)co_await sleep(10ms);
            src.request_stop();
            co_await scope.join();
            REQUIRE_FALSE(got);
            CHECK(got.error().is(Errc::cancelled));
            CHECK(Clock::now() - t0 < 2s);

            auto s = DatagramSocket::send_to(name, "STOPPING=1");
            REQUIRE(s);
            auto r = co_await recv_within(&*sock);
            REQUIRE(r);
            CHECK(r->data == "STOPPING=1");
        });
    }

    TEST_CASE("a receive whose token is already stopped does not wait, even with data queued") {
        run_test([](std::stop_token) -> Task<void> {
            std::string name = abstract_name();
            auto sock = DatagramSocket::bind(name);
            REQUIRE(sock);
            auto s = DatagramSocket::send_to(name, "x");
            REQUIRE(s);
            std::stop_source src;
            src.request_stop();
            auto r = co_await sock->receive(src.get_token());
            CHECK(r.error().is(Errc::cancelled));
            auto x = co_await recv_within(&*sock);  // still there for the next receive
            REQUIRE(x);
            CHECK(x->data == "x");
        });
    }

    TEST_CASE("destroying the socket while a receive is pending cancels it and unlinks the path") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir dir("dgram");
            std::string path = dir / "drop.sock";
            auto bound = DatagramSocket::bind(path);
            REQUIRE(bound);
            auto sock = std::make_unique<DatagramSocket>(std::move(*bound));
            Result<Datagram> got = fail(Errc::timeout);
            auto receiver = [](DatagramSocket* s, Result<Datagram>* out) -> Task<void> {
                *out = co_await s->receive();
            };
            TaskScope scope = TaskScope::shielded();
            scope.spawn(receiver(sock.get(), &got));
            (void)co_await sleep(5ms);
            sock.reset();  // owner dropped
            co_await scope.join();
            REQUIRE_FALSE(got);
            CHECK(got.error().is(Errc::cancelled));
            CHECK_FALSE(std::filesystem::exists(path));
        });
    }

    TEST_CASE("destroying a frame suspended in receive releases the socket and its fd") {
        std::size_t fds_before = open_fds();
        Loop loop;
        {
            auto sock = DatagramSocket::bind(abstract_name());
            REQUIRE(sock);
            auto receiver = [](DatagramSocket* s) -> Task<void> { (void)co_await s->receive(); };
            auto t = receiver(&*sock);
            loop.schedule(t.handle());
            loop.run([]() -> Task<void> { co_return; }());
            CHECK_FALSE(t.done());
        }  // the frame goes first, unresumed, then the socket
        auto closed = loop.close();
        CHECK_MESSAGE(closed.has_value(), (closed ? std::string() : closed.error().message()));
        CHECK(open_fds() == fds_before);  // the close callback closed the socket
    }

    TEST_CASE("a socket nobody awaits does not keep the loop alive") {
        Loop loop;
        auto sock = DatagramSocket::bind(abstract_name());
        REQUIRE(sock);
        // An unrelated wait that can never finish must be reported as a
        // deadlock, not hidden by the idle socket's poll handle.
        auto stuck = []() -> Task<void> {
            Channel<int> ch(1);
            (void)co_await ch.recv();
        };
        CHECK_THROWS_AS(loop.run(stuck()), Deadlock);
        sock->close();
        auto closed = loop.close();
        CHECK_MESSAGE(closed.has_value(), (closed ? std::string() : closed.error().message()));
    }

    TEST_CASE("a path that does not fit in sun_path is refused, naming the path and the limit") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir dir("dgram");
            std::string path = dir / (std::string(150, 'n') + ".sock");
            auto r = DatagramSocket::bind(path);
            REQUIRE_FALSE(r);
            CHECK(r.error().code.value() == UV_ENAMETOOLONG);
            CHECK(contains(r.error().message(), path));
            CHECK(contains(r.error().message(), "107"));

            auto abs = DatagramSocket::bind("@" + std::string(108, 'a'));
            REQUIRE_FALSE(abs);
            CHECK(abs.error().code.value() == UV_ENAMETOOLONG);
            auto fits = DatagramSocket::bind("@" + std::string(106, 'a') + std::to_string(::getpid() % 10));
            CHECK(fits);

            auto send = DatagramSocket::send_to(path, "x");
            REQUIRE_FALSE(send);
            CHECK(send.error().code.value() == UV_ENAMETOOLONG);
            auto empty = DatagramSocket::bind("");
            CHECK_FALSE(empty);
            co_return;
        });
    }

    TEST_CASE("a stale socket file is replaced") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir dir("dgram");
            std::string path = dir / "stale.sock";
            {  // what a crashed reins leaves behind: the file, nobody bound to it
                sockaddr_un sun{};
                sun.sun_family = AF_UNIX;
                std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
                int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
                ::close(fd);
            }
            REQUIRE(std::filesystem::is_socket(path));
            auto sock = DatagramSocket::bind(path);
            REQUIRE_MESSAGE(sock, (sock ? std::string() : sock.error().message()));
            auto s = DatagramSocket::send_to(path, "READY=1");
            REQUIRE(s);
            auto r = co_await recv_within(&*sock);
            REQUIRE(r);
            CHECK(r->data == "READY=1");
        });
    }

    TEST_CASE("a live socket is not taken over, and a non-socket file is left alone") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir dir("dgram");
            std::string path = dir / "live.sock";
            auto first = DatagramSocket::bind(path);
            REQUIRE(first);
            auto second = DatagramSocket::bind(path);
            REQUIRE_FALSE(second);
            CHECK(second.error().code.value() == UV_EADDRINUSE);
            CHECK(contains(second.error().message(), path));
            auto s = DatagramSocket::send_to(path, "still mine");
            REQUIRE(s);
            auto r = co_await recv_within(&*first);
            REQUIRE(r);
            CHECK(r->data == "still mine");

            std::string file = dir / "notes.txt";
            std::ofstream(file) << "keep me";
            auto over = DatagramSocket::bind(file);
            REQUIRE_FALSE(over);
            CHECK(contains(over.error().message(), file));
            CHECK(contains(over.error().message(), "not a socket"));
            std::ifstream in(file);
            std::string content;
            std::getline(in, content);
            CHECK(content == "keep me");
        });
    }

    TEST_CASE("send_to a path nobody is bound to fails, naming the path") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir dir("dgram");
            std::string path = dir / "nobody.sock";
            auto r = DatagramSocket::send_to(path, "READY=1");
            REQUIRE_FALSE(r);
            CHECK(r.error().code.value() == UV_ENOENT);
            CHECK(contains(r.error().message(), path));
            auto a = DatagramSocket::send_to(abstract_name(), "READY=1");
            REQUIRE_FALSE(a);
            CHECK(a.error().code.value() == UV_ECONNREFUSED);
            co_return;
        });
    }

    TEST_CASE("systemd-notify --ready works with NOTIFY_SOCKET, path and abstract") {
        std::string prog = find_in_path("systemd-notify");
        if (prog.empty()) {
            MESSAGE("systemd-notify not installed: skipped");
            return;
        }
        run_test(
            [](std::stop_token) -> Task<void> {
                std::string prog = find_in_path("systemd-notify");
                TempDir dir("dgram");
                auto by_path = DatagramSocket::bind(dir / "notify.sock");
                REQUIRE(by_path);
                co_await systemd_notify_ready(prog, &*by_path);
                auto by_name = DatagramSocket::bind(abstract_name());
                REQUIRE(by_name);
                co_await systemd_notify_ready(prog, &*by_name);
            },
            30s);
    }
}
