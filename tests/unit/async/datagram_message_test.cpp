// Datagrams on a Unix socket, by path and by abstract name: the message,
// the sender's credentials, passed descriptors, and oversized messages.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "datagram_harness.hpp"
#include "harness.hpp"
#include "reins/async/datagram.hpp"
#include "temp_dir.hpp"

using namespace reins;
using namespace reins::test;

namespace {

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
}
