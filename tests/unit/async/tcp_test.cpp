// TCP on 127.0.0.1 / ::1 only: endpoints, connect, listen, accept, and the
// stop / owner-destroyed / frame-dropped paths of each.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "reins/async/tcp.hpp"

using namespace reins;
using namespace reins::test;
using Clock = std::chrono::steady_clock;

namespace {

Endpoint loopback(int port = 0) {
    auto ep = parse_endpoint("127.0.0.1", port);
    REQUIRE(ep.has_value());
    return *ep;
}

Task<std::string> read_n(Stream* s, std::size_t n) {
    std::string out;
    while (out.size() < n) {
        auto r = co_await s->read();
        if (!r) break;
        out.append(*r);
    }
    co_return out;
}

// A port nothing listens on (bound then released; nobody else races for it
// on a test machine in the few microseconds before we connect).
int closed_port() {
    auto l = TcpListener::listen(loopback());
    REQUIRE(l.has_value());
    return l->local().port();
}

// A listening socket nobody accepts from, with a backlog of 0: once one
// connection fills its queue the kernel drops further SYNs, so connects hang
// (the client retransmits for minutes). Plain fd: libuv would accept.
struct BlackHole {
    int fd = -1;
    Endpoint ep;
    BlackHole() {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd >= 0);
        Endpoint any = loopback();
        REQUIRE(bind(fd, any.sa(), sizeof(sockaddr_in)) == 0);
        REQUIRE(::listen(fd, 0) == 0);
        socklen_t len = sizeof ep.addr;
        REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&ep.addr), &len) == 0);
    }
    ~BlackHole() { ::close(fd); }
};

// Connects to the black hole until a connect hangs (queue full); keeps the
// connections that got in. True once the queue is full.
Task<bool> fill_backlog(Endpoint ep, std::vector<Stream>* keep) {
    for (int i = 0; i < 16; ++i) {
        auto r = co_await tcp_connect(ep, 200ms);
        if (!r) co_return r.error().is(Errc::timeout);
        keep->push_back(std::move(*r));
    }
    co_return false;
}

struct IgnoreSigpipe {
    struct sigaction old {};
    IgnoreSigpipe() {
        struct sigaction ign {};
        ign.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &ign, &old);
    }
    ~IgnoreSigpipe() { sigaction(SIGPIPE, &old, nullptr); }
};

}  // namespace

TEST_SUITE("tcp") {
    TEST_CASE("parse_endpoint takes numeric IPv4 and IPv6 and localhost") {
        auto a = parse_endpoint("127.0.0.1", 80);
        REQUIRE(a.has_value());
        CHECK(a->to_string() == "127.0.0.1:80");
        CHECK(a->port() == 80);
        auto b = parse_endpoint("::1", 8080);
        REQUIRE(b.has_value());
        CHECK(b->to_string() == "[::1]:8080");
        CHECK(b->port() == 8080);
        auto c = parse_endpoint("[::1]", 1);
        REQUIRE(c.has_value());
        CHECK(c->to_string() == "[::1]:1");
        auto d = parse_endpoint("localhost", 65535);
        REQUIRE(d.has_value());
        CHECK(d->to_string() == "127.0.0.1:65535");
        auto e = parse_endpoint("0.0.0.0", 0);
        REQUIRE(e.has_value());
        CHECK(e->port() == 0);
        CHECK(Endpoint{}.to_string() == "(no address)");
    }

    TEST_CASE("parse_endpoint rejects names, junk and bad ports without DNS") {
        for (const char* bad : {"example.com", "", "1.2.3", "127.0.0.1:80", "[127.0.0.1]", "::1]", "256.0.0.1"}) {
            auto r = parse_endpoint(bad, 80);
            CHECK_MESSAGE(!r.has_value(), bad);
            if (!r) {
                CHECK(r.error().code == uv_error(UV_EINVAL).code);
                CHECK(r.error().message().find(std::string("\"") + bad + "\"") != std::string::npos);
            }
        }
        auto nul = parse_endpoint(std::string_view("127.0.0.1\0junk", 14), 80);
        CHECK_FALSE(nul.has_value());
        for (int port : {-1, 65536}) {
            auto r = parse_endpoint("127.0.0.1", port);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().message().find(std::to_string(port)) != std::string::npos);
        }
    }

    TEST_CASE("connect, accept, and bytes both ways; the peer's close is end_of_stream") {
        run_test([](std::stop_token) -> Task<void> {
            auto l = TcpListener::listen(loopback());
            REQUIRE(l.has_value());
            Endpoint ep = l->local();
            CHECK(ep.port() != 0);
            CHECK(ep.to_string() == "127.0.0.1:" + std::to_string(ep.port()));
            auto client = co_await tcp_connect(ep);
            REQUIRE(client.has_value());
            auto server = co_await l->accept();
            REQUIRE(server.has_value());
            auto w = co_await client->write("ping");
            CHECK(w.has_value());
            auto got = co_await read_n(&*server, 4);
            CHECK(got == "ping");
            auto w2 = co_await server->write("pong");
            CHECK(w2.has_value());
            auto back = co_await read_n(&*client, 4);
            CHECK(back == "pong");
            client->close();
            auto eof = co_await server->read();
            REQUIRE_FALSE(eof.has_value());
            CHECK(eof.error().is(Errc::end_of_stream));
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
            std::stop_source src;
            Result<Stream> got = fail(Errc::timeout);
            auto connector = [](Endpoint ep, std::stop_token st, Result<Stream>* out) -> Task<void> {
                *out = co_await tcp_connect(ep, std::move(st));
            };
            TaskScope scope = TaskScope::shielded();
            scope.spawn(connector(hole.ep, src.get_token(), &got));
            co_await sleep(20ms);
            auto t0 = Clock::now();
            src.request_stop();
            co_await scope.join();
            REQUIRE_FALSE(got.has_value());
            CHECK(got.error().is(Errc::cancelled));
            CHECK(got.error().message().find(hole.ep.to_string()) != std::string::npos);
            CHECK(Clock::now() - t0 < 1s);
            std::stop_source pre;
            pre.request_stop();
            auto r = co_await tcp_connect(hole.ep, pre.get_token());
            CHECK(r.error().is(Errc::cancelled));
            // The deadline version, stopped from outside before its deadline.
            std::stop_source outer;
            Result<Stream> got2 = fail(Errc::timeout);
            auto timed = [](Endpoint ep, std::stop_token st, Result<Stream>* out) -> Task<void> {
                *out = co_await tcp_connect(ep, 10s, std::move(st));
            };
            TaskScope scope2 = TaskScope::shielded();
            scope2.spawn(timed(hole.ep, outer.get_token(), &got2));
            co_await sleep(20ms);
            auto t1 = Clock::now();
            outer.request_stop();
            co_await scope2.join();
            REQUIRE_FALSE(got2.has_value());
            CHECK(got2.error().is(Errc::cancelled));
            CHECK(Clock::now() - t1 < 1s);
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

    TEST_CASE("an accept stopped by its token completes with cancelled; the listener stays usable") {
        run_test([](std::stop_token) -> Task<void> {
            auto l = TcpListener::listen(loopback());
            REQUIRE(l.has_value());
            std::stop_source src;
            Result<Stream> got = fail(Errc::timeout);
            auto acceptor = [](TcpListener* ls, std::stop_token st, Result<Stream>* out) -> Task<void> {
                *out = co_await ls->accept(std::move(st));
            };
            TaskScope scope = TaskScope::shielded();
            scope.spawn(acceptor(&*l, src.get_token(), &got));
            co_await sleep(10ms);
            src.request_stop();
            co_await scope.join();
            REQUIRE_FALSE(got.has_value());
            CHECK(got.error().is(Errc::cancelled));
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
            Result<Stream> got = fail(Errc::timeout);
            auto acceptor = [](TcpListener* ls, Result<Stream>* out) -> Task<void> { *out = co_await ls->accept(); };
            TaskScope scope = TaskScope::shielded();
            scope.spawn(acceptor(owned.get(), &got));
            co_await sleep(5ms);
            owned.reset();
            co_await scope.join();
            REQUIRE_FALSE(got.has_value());
            CHECK(got.error().is(Errc::cancelled));
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
