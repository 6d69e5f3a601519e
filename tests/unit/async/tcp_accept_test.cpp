// TCP listen and accept on 127.0.0.1: the backlog, a busy port, and the
// stop / owner-destroyed / frame-dropped paths of accept.
#include <memory>
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

TEST_SUITE("tcp") {
    TEST_CASE("connections that arrive while nobody accepts wait in the backlog") {
        run_test([](std::stop_token) -> Task<void> {
            auto l = TcpListener::listen(loopback());
            REQUIRE(l.has_value());
            std::vector<Stream> clients;
            for (int i = 0; i < 5; ++i) {
                auto c = co_await tcp_connect(l->local(), 2s);
                REQUIRE(c.has_value());
                auto w = co_await c->write(std::to_string(i));
                CHECK(w.has_value());
                clients.push_back(std::move(*c));
            }
            co_await sleep(10ms);
            for (int i = 0; i < 5; ++i) {
                auto s = co_await l->accept();
                REQUIRE(s.has_value());
                auto got = co_await read_n(&*s, 1);
                CHECK(got == std::to_string(i));  // accepted in arrival order
            }
        });
    }

    TEST_CASE("an accept stopped by its token completes with cancelled; the listener stays usable") {
        run_test([](std::stop_token) -> Task<void> {
            auto l = TcpListener::listen(loopback());
            REQUIRE(l.has_value());
            co_await stopped_accept_is_cancelled(&*l);
            auto c = co_await tcp_connect(l->local(), 2s);
            REQUIRE(c.has_value());
            auto s = co_await l->accept();
            CHECK(s.has_value());
        });
    }

    TEST_CASE("destroying the listener while an accept is pending cancels the accept") {
        run_test([](std::stop_token) -> Task<void> {
            auto l = TcpListener::listen(loopback());
            REQUIRE(l.has_value());
            auto owned = std::make_unique<TcpListener>(std::move(*l));
            CHECK_FALSE(*l);  // moved from
            co_await destroyed_listener_cancels_accept(&owned);
            TcpListener closed;
            auto r = co_await closed.accept();
            CHECK(r.error().is(Errc::cancelled));
        });
    }

    TEST_CASE("a frame dropped while its accept is pending unlinks itself") {
        run_test([](std::stop_token) -> Task<void> {
            auto l = TcpListener::listen(loopback());
            REQUIRE(l.has_value());
            {
                auto acceptor = [](TcpListener* ls) -> Task<void> { (void)co_await ls->accept(); };
                auto t = acceptor(&*l);
                Loop::current().schedule(t.handle());
                co_await sleep(5ms);
                CHECK_FALSE(t.done());
            }
            // A connection now finds no waiter: it waits for the next accept.
            auto c = co_await tcp_connect(l->local(), 2s);
            REQUIRE(c.has_value());
            co_await sleep(5ms);
            auto s = co_await l->accept();
            CHECK(s.has_value());
        });
    }

    TEST_CASE("a connection accepted by libuv but never taken is closed with the listener") {
        run_test([](std::stop_token) -> Task<void> {
            auto l = TcpListener::listen(loopback());
            REQUIRE(l.has_value());
            auto c = co_await tcp_connect(l->local(), 2s);
            REQUIRE(c.has_value());
            co_await sleep(10ms);  // libuv accepts it and holds it
            l->close();
            auto r = co_await c->read();
            REQUIRE_FALSE(r.has_value());  // end_of_stream (FIN) or reset, never a hang
        });
    }

    TEST_CASE("a busy port is an error naming the address") {
        run_test([](std::stop_token) -> Task<void> {
            auto a = TcpListener::listen(loopback());
            REQUIRE(a.has_value());
            int port = a->local().port();
            auto b = TcpListener::listen(loopback(port));
            REQUIRE_FALSE(b.has_value());
            CHECK(b.error().code == uv_error(UV_EADDRINUSE).code);
            CHECK(b.error().message() ==
                  "listen 127.0.0.1:" + std::to_string(port) + ": address already in use (EADDRINUSE)");
            co_return;
        });
    }
}
