// Unix stream sockets: listen/accept/connect, long paths, stale files,
// peer credentials, and the stop / owner-destroyed / frame-dropped paths.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fd_exhaustion.hpp"
#include "harness.hpp"
#include "listener_harness.hpp"
#include "reins/async/tcp.hpp"
#include "reins/async/unix_socket.hpp"
#include "temp_dir.hpp"

using namespace reins;
using namespace reins::test;

namespace {

// A folder deep enough that a socket in it has a path longer than sun_path.
std::string deep_dir(const TempDir& t) {
    std::string dir = t.path;
    for (int i = 0; i < 4; ++i) dir += "/a-rather-long-folder-name-to-go-past-sun-path-" + std::to_string(i);
    std::filesystem::create_directories(dir);
    return dir;
}

mode_t file_mode(const std::string& path) {
    struct stat sb {};
    REQUIRE(::lstat(path.c_str(), &sb) == 0);
    return sb.st_mode & 07777;
}

bool exists(const std::string& path) {
    struct stat sb {};
    return ::lstat(path.c_str(), &sb) == 0;
}

}  // namespace

TEST_SUITE("unix_socket") {
    TEST_CASE("out of descriptors, accept is an error naming the limit, and the client is kept waiting") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir t("unix");
            std::string path = t / "api.sock";
            auto l = UnixListener::listen(path);
            REQUIRE(l.has_value());
            auto client = co_await unix_connect(path);
            REQUIRE(client.has_value());
            FdExhaustion out;
            auto refused = co_await l->accept();
            REQUIRE_FALSE(refused.has_value());
            CHECK(refused.error().code == uv_error(UV_EMFILE).code);
            CHECK(refused.error().message().find("RLIMIT_NOFILE") != std::string::npos);
            CHECK(refused.error().message().find("ulimit -n") != std::string::npos);
            out.release();
            // Not reset (libuv's own accept would have closed it): served now.
            auto server = co_await l->accept();
            REQUIRE(server.has_value());
            auto w = co_await client->write("ping");
            CHECK(w.has_value());
            auto got = co_await read_n(&*server, 4);
            CHECK(got == "ping");
        });
    }

    TEST_CASE("listen, connect, accept, bytes both ways; mode set; file removed on close") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir t("unix");
            std::string path = t / "api.sock";
            auto l = UnixListener::listen(path, 0660);
            REQUIRE(l.has_value());
            CHECK(l->path() == path);
            CHECK(file_mode(path) == 0660);
            co_await round_trip(&*l, path);
            l->close();
            CHECK_FALSE(*l);
            CHECK(l->path().empty());
            CHECK_FALSE(exists(path));
            auto gone = co_await unix_connect(path);
            REQUIRE_FALSE(gone.has_value());
            CHECK(gone.error().code == uv_error(UV_ENOENT).code);
            CHECK(gone.error().message() == "connect " + path + ": no such file or directory (ENOENT)");
        });
    }

    TEST_CASE("the default mode is 0600") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir t("unix");
            auto l = UnixListener::listen(t / "d.sock");
            REQUIRE(l.has_value());
            CHECK(file_mode(t / "d.sock") == 0600);
            co_return;
        });
    }

    TEST_CASE("paths longer than sun_path work for listen and connect") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir t("unix");
            std::string path = deep_dir(t) + "/reins.sock";
            REQUIRE(path.size() > sizeof(sockaddr_un::sun_path));
            auto l = UnixListener::listen(path, 0600);
            REQUIRE(l.has_value());
            CHECK(exists(path));
            CHECK(file_mode(path) == 0600);
            co_await round_trip(&*l, path);
            // The live long-path socket is detected through the alias too.
            auto again = UnixListener::listen(path);
            REQUIRE_FALSE(again.has_value());
            CHECK(again.error().code == uv_error(UV_EADDRINUSE).code);
            auto probe = co_await l->accept();  // the probe's connection
            CHECK(probe.has_value());
            l->close();
            CHECK_FALSE(exists(path));
        });
    }

    TEST_CASE("bad paths are errors naming them") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir t("unix");
            auto empty = UnixListener::listen("");
            CHECK(empty.error().code == uv_error(UV_EINVAL).code);
            auto nul = UnixListener::listen(std::string("/tmp/x\0y", 8));
            CHECK(nul.error().code == uv_error(UV_EINVAL).code);
            std::string long_name = t / std::string(120, 'n');
            auto too_long = UnixListener::listen(long_name);
            REQUIRE_FALSE(too_long.has_value());
            CHECK(too_long.error().code == uv_error(UV_ENAMETOOLONG).code);
            CHECK(too_long.error().message().find(long_name) != std::string::npos);
            std::string no_dir = deep_dir(t) + "/missing-folder/x.sock";
            auto missing = UnixListener::listen(no_dir);
            REQUIRE_FALSE(missing.has_value());
            CHECK(missing.error().code == uv_error(UV_ENOENT).code);
            auto c = co_await unix_connect(no_dir);
            CHECK(c.error().code == uv_error(UV_ENOENT).code);
            auto in_missing = UnixListener::listen(t / "nope/x.sock");
            CHECK(in_missing.error().code == uv_error(UV_ENOENT).code);
        });
    }

    TEST_CASE("a stale socket file is replaced, a live one refused, a regular file left alone") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir t("unix");
            std::string path = t / "s.sock";
            {  // a socket file nobody listens on any more
                int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                sockaddr_un sun{};
                sun.sun_family = AF_UNIX;
                std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
                REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
                ::close(fd);
            }
            REQUIRE(exists(path));
            auto l = UnixListener::listen(path);
            REQUIRE(l.has_value());
            auto live = UnixListener::listen(path);
            REQUIRE_FALSE(live.has_value());
            CHECK(live.error().code == uv_error(UV_EADDRINUSE).code);
            CHECK(live.error().message().find(path) != std::string::npos);
            // Probing showed up as a connection that closed at once; the
            // listener is otherwise undisturbed.
            auto probe = co_await l->accept();
            REQUIRE(probe.has_value());
            auto eof = co_await probe->read();
            CHECK(eof.error().is(Errc::end_of_stream));
            co_await round_trip(&*l, path);

            std::string file = t / "plain";
            std::ofstream(file) << "keep me";
            auto f = UnixListener::listen(file);
            REQUIRE_FALSE(f.has_value());
            CHECK(f.error().code == uv_error(UV_EEXIST).code);
            CHECK(exists(file));
        });
    }

    TEST_CASE("close unlinks only the file it created") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir t("unix");
            std::string path = t / "r.sock";
            auto l = UnixListener::listen(path);
            REQUIRE(l.has_value());
            REQUIRE(::unlink(path.c_str()) == 0);
            std::ofstream(path) << "someone else's";
            l->close();
            CHECK(exists(path));
            co_return;
        });
    }

    TEST_CASE("peer credentials carry our pid, uid and gid on both ends") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir t("unix");
            auto l = UnixListener::listen(t / "p.sock");
            REQUIRE(l.has_value());
            auto client = co_await unix_connect(t / "p.sock");
            REQUIRE(client.has_value());
            auto server = co_await l->accept();
            REQUIRE(server.has_value());
            for (Stream* s : {&*server, &*client}) {
                auto cred = peer_credentials(*s);
                REQUIRE(cred.has_value());
                CHECK(cred->pid == ::getpid());
                CHECK(cred->uid == ::getuid());
                CHECK(cred->gid == ::getgid());
            }
            Stream closed;
            auto none = peer_credentials(closed);
            CHECK_FALSE(none.has_value());
            // A TCP socket has no credentials to give.
            auto ep = parse_endpoint("127.0.0.1", 0);
            REQUIRE(ep.has_value());
            auto tl = TcpListener::listen(*ep);
            REQUIRE(tl.has_value());
            auto tc = co_await tcp_connect(tl->local());
            REQUIRE(tc.has_value());
            auto tcp_cred = peer_credentials(*tc);
            REQUIRE_FALSE(tcp_cred.has_value());
            CHECK(tcp_cred.error().code == uv_error(UV_EINVAL).code);
        });
    }

    TEST_CASE("a full backlog makes connect fail at once with EAGAIN") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir t("unix");
            // A plain listening socket with backlog 0 that nobody accepts from.
            std::string path = t / "full.sock";
            int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_un sun{};
            sun.sun_family = AF_UNIX;
            std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
            REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
            REQUIRE(::listen(fd, 0) == 0);
            std::vector<Stream> keep;
            Result<Stream> r = fail(Errc::timeout);
            for (int i = 0; i < 8; ++i) {
                r = co_await unix_connect(path);
                if (!r) break;
                keep.push_back(std::move(*r));
            }
            ::close(fd);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().code == uv_error(UV_EAGAIN).code);
            CHECK(r.error().message().find("connect " + path) == 0);
        });
    }

    TEST_CASE("connect with a stop already requested is cancelled") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir t("unix");
            auto l = UnixListener::listen(t / "c.sock");
            REQUIRE(l.has_value());
            std::stop_source src;
            src.request_stop();
            auto r = co_await unix_connect(t / "c.sock", src.get_token());
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().is(Errc::cancelled));
        });
    }

    TEST_CASE("an accept stopped by its token completes with cancelled; the listener stays usable") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir t("unix");
            std::string path = t / "a.sock";
            auto l = UnixListener::listen(path);
            REQUIRE(l.has_value());
            co_await stopped_accept_is_cancelled(&*l);
            std::stop_source pre;
            pre.request_stop();
            auto r = co_await l->accept(pre.get_token());
            CHECK(r.error().is(Errc::cancelled));
            co_await round_trip(&*l, path);
        });
    }

    TEST_CASE("destroying the listener while an accept is pending cancels the accept") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir t("unix");
            auto l = UnixListener::listen(t / "o.sock");
            REQUIRE(l.has_value());
            auto owned = std::make_unique<UnixListener>(std::move(*l));
            CHECK_FALSE(*l);
            co_await destroyed_listener_cancels_accept(&owned);
            CHECK_FALSE(exists(t / "o.sock"));
            UnixListener closed;
            auto r = co_await closed.accept();
            CHECK(r.error().is(Errc::cancelled));
        });
    }

    TEST_CASE("a frame dropped while its accept is pending unlinks itself") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir t("unix");
            std::string path = t / "f.sock";
            auto l = UnixListener::listen(path);
            REQUIRE(l.has_value());
            {
                auto acceptor = [](UnixListener* ls) -> Task<void> { (void)co_await ls->accept(); };
                auto task = acceptor(&*l);
                Loop::current().schedule(task.handle());
                co_await sleep(5ms);
                CHECK_FALSE(task.done());
            }
            co_await round_trip(&*l, path);  // the next accept finds the connection
        });
    }

    TEST_CASE("a connection accepted by libuv but never taken is closed with the listener") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir t("unix");
            auto l = UnixListener::listen(t / "n.sock");
            REQUIRE(l.has_value());
            auto c = co_await unix_connect(t / "n.sock");
            REQUIRE(c.has_value());
            co_await sleep(10ms);  // libuv accepts it and holds it
            l->close();
            auto r = co_await c->read();
            REQUIRE_FALSE(r.has_value());  // end of stream, never a hang
        });
    }
}
