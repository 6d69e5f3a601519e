// Server: streaming responses (GET /v1/events-like) and their endings —
// normal, client gone, client not reading, server stopping — plus TCP.
#include <nlohmann/json.hpp>

#include "server_harness.hpp"

using namespace reins;
using namespace reins::test;
using nlohmann::json;

namespace {

Task<void> normal_end_client(TestServer* ts) {
    Conn c = co_await connect(ts);
    // The stream and a request pipelined behind it, in one write.
    co_await send(&c, get("/events?n=3&ms=1") + get("/hello"));
    auto r = co_await next_response(&c);
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->header("Transfer-Encoding") == "chunked");
    CHECK(r->header("Content-Type") == "application/x-ndjson");
    CHECK_FALSE(r->header("Content-Length").has_value());
    CHECK(r->body == "event 0\nevent 1\nevent 2\n");
    auto hello = co_await next_response(&c);
    REQUIRE(hello.has_value());
    CHECK(hello->body == "hello");
    CHECK(ts->stats.streams_ended == 1);
    CHECK_FALSE(ts->stats.stream_stopped);
    // respond(): a whole answer instead of a stream, and the connection stays.
    co_await send(&c, get("/events?respond=404"));
    auto nf = co_await next_response(&c);
    REQUIRE(nf.has_value());
    CHECK(nf->status == 404);
    CHECK(nf->header("Content-Length").has_value());
    CHECK(json::parse(nf->body)["error"] == "no such thing");
    co_await send(&c, get("/hello"));
    auto again = co_await next_response(&c);
    REQUIRE(again.has_value());
    CHECK(again->status == 200);
}

Task<void> http10_client(TestServer* ts) {
    Conn c = co_await connect(ts);
    co_await send(&c, "GET /events?n=2&ms=1 HTTP/1.0\r\n\r\n");
    bool eof = co_await read_to_eof(&c);
    CHECK(eof);
    CHECK(c.buf.find("Transfer-Encoding") == std::string::npos);
    CHECK(c.buf.find("Connection: close\r\n") != std::string::npos);
    CHECK(c.buf.substr(c.buf.find("\r\n\r\n") + 4) == "event 0\nevent 1\n");
}

// The client reads a little and hangs up; `ms` is the handler's pause
// between events (long: only the reader watching for EOF can notice).
Task<void> gone_client(TestServer* ts, int ms) {
    Conn c = co_await connect(ts);
    co_await send(&c, get("/events?ms=" + std::to_string(ms)));
    bool some = co_await read_at_least(&c, 90);
    REQUIRE(some);
    CHECK(c.buf.find("event 0") != std::string::npos);
    auto t0 = Clock::now();
    c.s.close();
    auto ended = [ts] { return ts->stats.streams_ended == 1; };
    bool done = co_await eventually(ended);
    REQUIRE(done);
    CHECK(Clock::now() - t0 < 1s);
    CHECK((ts->stats.stream_stopped || ts->stats.send_failed));
    if (ms >= 1000) CHECK(ts->stats.stream_stopped);  // noticed while idle: by the stop token
    auto none = [ts] { return ts->server.connections() == 0; };
    bool closed = co_await eventually(none);
    CHECK(closed);
    Conn next = co_await connect(ts);  // and the server goes on serving
    co_await send(&next, get("/hello"));
    auto r = co_await next_response(&next);
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
}

Task<void> gone_while_busy(TestServer* ts) { co_await gone_client(ts, 10); }
Task<void> gone_while_idle(TestServer* ts) { co_await gone_client(ts, 30000); }

Task<void> not_reading_client(TestServer* ts) {
    Conn c = co_await connect(ts);
    co_await send(&c, get("/events?big=65536&ms=0"));
    // Never read: the socket fills, a send waits write_timeout (300 ms) and fails.
    auto ended = [ts] { return ts->stats.streams_ended == 1; };
    bool done = co_await eventually(ended, 5s);
    REQUIRE(done);
    CHECK(ts->stats.send_failed);
    Conn other = co_await connect(ts);
    co_await send(&other, get("/hello"));
    auto r = co_await next_response(&other);
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    bool eof = co_await read_to_eof(&c);  // what was sent, then the close
    CHECK(eof);
}

Task<void> stopping_client(TestServer* ts) {
    Conn c = co_await connect(ts);
    co_await send(&c, get("/events?ms=30000"));
    bool some = co_await read_at_least(&c, 50);
    REQUIRE(some);
    auto t0 = Clock::now();
    ts->stop.request_stop();
    bool eof = co_await read_to_eof(&c, 2s);
    CHECK(eof);
    auto ended = [ts] { return ts->ended.has_value(); };
    bool done = co_await eventually(ended, 2s);
    CHECK(done);
    CHECK(Clock::now() - t0 < 1s);
    CHECK(ts->stats.streams_ended == 1);
    CHECK(ts->stats.stream_stopped);
}

// Over TCP: no peer credentials, and allow_peer is not consulted.
Task<void> tcp_exchange(http::Server* server) {
    auto s = co_await tcp_connect(server->local(), 2s);
    REQUIRE_MESSAGE(s.has_value(), s.error().message());
    Conn c;
    c.s = std::move(*s);
    co_await send(&c, get("/whoami"));
    auto r = co_await next_response(&c);
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->body == "null\n");
    co_await send(&c, get("/events?n=2&ms=1"));
    auto e = co_await next_response(&c);
    REQUIRE(e.has_value());
    CHECK(e->body == "event 0\nevent 1\n");
}

Task<void> stop_then(Task<void> client, std::stop_source* stop) {
    co_await std::move(client);
    stop->request_stop();
}

Task<void> serve_tcp(http::Server* server, Task<void> client, std::stop_source* stop) {
    TaskScope scope(stop->get_token());
    scope.spawn(server->run(scope.token()));
    scope.spawn(stop_then(std::move(client), stop));
    co_await scope.join();
}

}  // namespace

TEST_SUITE("server") {
    TEST_CASE("a stream ends with its handler; a pipelined request behind it is answered; respond() instead") {
        run_test([](std::stop_token) -> Task<void> {
            TestServer ts;
            co_await serve_while(&ts, normal_end_client(&ts));
        });
    }
    TEST_CASE("an HTTP/1.0 client gets the stream unchunked, ended by the close") {
        run_test([](std::stop_token) -> Task<void> {
            TestServer ts;
            co_await serve_while(&ts, http10_client(&ts));
        });
    }
    TEST_CASE("a client leaving mid-stream ends the handler; the server keeps serving") {
        run_test([](std::stop_token) -> Task<void> {
            TestServer ts;
            co_await serve_while(&ts, gone_while_busy(&ts));
        });
    }
    TEST_CASE("a client leaving while the handler waits is noticed at once (stop token)") {
        run_test([](std::stop_token) -> Task<void> {
            TestServer ts;
            co_await serve_while(&ts, gone_while_idle(&ts));
        });
    }
    TEST_CASE("a client that stops reading makes a send fail after write_timeout") {
        run_test([](std::stop_token) -> Task<void> {
            TestServer ts;
            co_await serve_while(&ts, not_reading_client(&ts));
        });
    }
    TEST_CASE("stopping the server ends open streams promptly") {
        run_test([](std::stop_token) -> Task<void> {
            TestServer ts;
            co_await serve_while(&ts, stopping_client(&ts));
        });
    }
    TEST_CASE("a TCP server serves plain and streamed answers; peers are not checked") {
        run_test([](std::stop_token) -> Task<void> {
            auto ep = parse_endpoint("127.0.0.1", 0);
            REQUIRE(ep.has_value());
            auto l = TcpListener::listen(*ep);
            REQUIRE(l.has_value());
            Stats stats;
            auto o = fast_options();
            o.allow_peer = [](const PeerCredentials&) { return false; };
            http::Server server(std::move(*l), test_router(&stats), o);
            CHECK(server.local().port() != 0);
            CHECK(server.path().empty());
            std::stop_source stop;
            co_await serve_tcp(&server, tcp_exchange(&server), &stop);
        });
    }
}
