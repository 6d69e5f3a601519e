// TCP connect on 127.0.0.1 / ::1: bytes both ways, refused and hanging
// connects, the stop / frame-dropped paths, and writes after a reset.
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "listener_harness.hpp"
#include "loopback.hpp"
#include "reins/async/tcp.hpp"
#include "stream_harness.hpp"

using namespace reins;
using namespace reins::test;
using Clock = std::chrono::steady_clock;

namespace {

// Connects to `ep` into *out, without a deadline or with one of 10 s.
Task<void> connect_into(Endpoint ep, std::stop_token stop, Result<Stream>* out) {
    *out = co_await tcp_connect(ep, std::move(stop));
}
Task<void> connect_within_10s_into(Endpoint ep, std::stop_token stop, Result<Stream>* out) {
    *out = co_await tcp_connect(ep, 10s, std::move(stop));
}

// Starts `connect` toward `ep` (where connects hang), stops it 20 ms later,
// and checks that it ended with cancelled, promptly; what it ended with.
Task<Result<Stream>> stop_pending_connect(Task<void> (*connect)(Endpoint, std::stop_token, Result<Stream>*),
                                          Endpoint ep) {
    std::stop_source src;
    Result<Stream> got = fail(Errc::timeout);
    TaskScope scope = TaskScope::shielded();
    scope.spawn(connect(ep, src.get_token(), &got));
    co_await sleep(20ms);
    auto t0 = Clock::now();
    src.request_stop();
    co_await scope.join();
    REQUIRE_FALSE(got.has_value());
    CHECK(got.error().is(Errc::cancelled));
    CHECK(Clock::now() - t0 < 1s);
    co_return got;
}

}  // namespace

TEST_SUITE("tcp") {
    TEST_CASE("connect, accept, and bytes both ways; the peer's close is end_of_stream") {
        run_test([](std::stop_token) -> Task<void> {
            auto l = TcpListener::listen(loopback());
            REQUIRE(l.has_value());
            Endpoint ep = l->local();
            CHECK(ep.port() != 0);
            CHECK(ep.to_string() == "127.0.0.1:" + std::to_string(ep.port()));
            co_await round_trip(&*l, ep);
        });
    }

    TEST_CASE("IPv6 loopback works where the machine has it") {
        run_test([](std::stop_token) -> Task<void> {
            auto ep = parse_endpoint("::1", 0);
            REQUIRE(ep.has_value());
            auto l = TcpListener::listen(*ep);
            if (!l) {
                MESSAGE("no IPv6 loopback here: ", l.error().message());
                co_return;
            }
            Endpoint local = l->local();
            CHECK(local.to_string() == "[::1]:" + std::to_string(local.port()));
            auto client = co_await tcp_connect(local, 2s);
            REQUIRE(client.has_value());
            auto server = co_await l->accept();
            REQUIRE(server.has_value());
            auto w = co_await client->write("v6");
            CHECK(w.has_value());
            auto got = co_await read_n(&*server, 2);
            CHECK(got == "v6");
        });
    }

    TEST_CASE("a refused connect names the address and the errno") {
        run_test([](std::stop_token) -> Task<void> {
            int port = closed_port();
            auto r = co_await tcp_connect(loopback(port));
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().code == uv_error(UV_ECONNREFUSED).code);
            CHECK(r.error().message() ==
                  "connect 127.0.0.1:" + std::to_string(port) + ": connection refused (ECONNREFUSED)");
            auto r2 = co_await tcp_connect(loopback(port), 1s);  // the same through the deadline version
            REQUIRE_FALSE(r2.has_value());
            CHECK(r2.error().code == uv_error(UV_ECONNREFUSED).code);
        });
    }

    TEST_CASE("a connect that hangs times out, and its request is freed") {
        run_test([](std::stop_token) -> Task<void> {
            BlackHole hole;
            std::vector<Stream> keep;
            auto t0 = Clock::now();
            bool full = co_await fill_backlog(hole.ep, &keep);
            REQUIRE(full);
            CHECK(Clock::now() - t0 < 5s);
            auto t1 = Clock::now();
            auto r = co_await tcp_connect(hole.ep, 100ms);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().is(Errc::timeout));
            CHECK(r.error().message() == "connect " + hole.ep.to_string() + " after 100ms: timed out");
            CHECK(Clock::now() - t1 >= 100ms);
            CHECK(Clock::now() - t1 < 2s);
        });
    }

    TEST_CASE("a connect stopped by its token completes with cancelled, promptly") {
        run_test([](std::stop_token) -> Task<void> {
            BlackHole hole;
            std::vector<Stream> keep;
            bool full = co_await fill_backlog(hole.ep, &keep);
            REQUIRE(full);
            auto got = co_await stop_pending_connect(connect_into, hole.ep);
            CHECK(got.error().message().find(hole.ep.to_string()) != std::string::npos);
            std::stop_source pre;
            pre.request_stop();
            auto r = co_await tcp_connect(hole.ep, pre.get_token());
            CHECK(r.error().is(Errc::cancelled));
            // The deadline version, stopped from outside before its deadline.
            (void)co_await stop_pending_connect(connect_within_10s_into, hole.ep);
        });
    }

    TEST_CASE("a frame dropped while its connect is pending releases handle and request") {
        run_test([](std::stop_token) -> Task<void> {
            BlackHole hole;
            std::vector<Stream> keep;
            bool full = co_await fill_backlog(hole.ep, &keep);
            REQUIRE(full);
            {
                auto connector = [](Endpoint ep) -> Task<void> { (void)co_await tcp_connect(ep); };
                auto t = connector(hole.ep);
                Loop::current().schedule(t.handle());
                co_await sleep(10ms);
                CHECK_FALSE(t.done());
            }  // the handle closes; libuv calls back UV_ECANCELED, freeing the request
            co_await sleep(1ms);
        });
    }

    TEST_CASE("a write to a reset connection is an error value, not SIGPIPE") {
        IgnoreSigpipe guard;  // the executable's job (docs/runtime.md); here the test's
        run_test([](std::stop_token) -> Task<void> {
            auto l = TcpListener::listen(loopback());
            REQUIRE(l.has_value());
            auto client = co_await tcp_connect(l->local(), 2s);
            REQUIRE(client.has_value());
            auto server = co_await l->accept();
            REQUIRE(server.has_value());
            // Linger 0: close sends RST instead of FIN.
            uv_os_fd_t fd = -1;
            REQUIRE(uv_fileno(reinterpret_cast<uv_handle_t*>(server->uv()), &fd) == 0);
            struct linger lg {1, 0};
            REQUIRE(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
            server->close();
            co_await sleep(10ms);
            Result<void> r;
            for (int i = 0; i < 100 && r.has_value(); ++i) {
                r = co_await client->write("after the reset");
                if (r) co_await sleep(1ms);
            }
            REQUIRE_FALSE(r.has_value());
            MESSAGE("write to a reset socket: ", r.error().message());
            CHECK((r.error().code == uv_error(UV_EPIPE).code || r.error().code == uv_error(UV_ECONNRESET).code));
        });
    }
}
