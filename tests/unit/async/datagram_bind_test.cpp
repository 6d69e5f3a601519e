// DatagramSocket::bind and send_to: paths too long for sun_path, stale and
// live socket files, and a path nobody is bound to.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "datagram_harness.hpp"
#include "harness.hpp"
#include "reins/async/datagram.hpp"
#include "temp_dir.hpp"

using namespace reins;
using namespace reins::test;

TEST_SUITE("datagram") {
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
}
