// Server: requests on one connection, against raw sockets: keep-alive,
// pipelining, and Connection: close / HTTP/1.0. Streaming responses are in
// server_stream_test.cpp.
#include "server_harness.hpp"

using namespace reins;
using namespace reins::test;

namespace {

Task<void> keep_alive_client(TestServer* ts) {
    Conn c = co_await connect(ts);
    for (int i = 1; i <= 5; ++i) {
        co_await send(&c, get("/count"));
        auto r = co_await next_response(&c);
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
        CHECK(r->body == std::to_string(i) + " /count");
        CHECK(r->header("Content-Length") == std::to_string(r->body.size()));
        CHECK_FALSE(r->header("Connection").has_value());
    }
    co_await send(&c, "HEAD /hello HTTP/1.1\r\n\r\n");
    auto head = co_await next_response(&c, true);
    REQUIRE(head.has_value());
    CHECK(head->status == 200);
    CHECK(head->header("Content-Length") == "5");
    co_await send(&c, "POST /echo HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody");
    auto echo = co_await next_response(&c);  // no stray HEAD body before it
    REQUIRE(echo.has_value());
    CHECK(echo->body == "body");
    CHECK(echo->header("X-Method") == "POST");
    CHECK(echo->header("Content-Type") == "text/plain; charset=utf-8");
    // HTTP/1.0 with keep-alive is kept, and told so.
    co_await send(&c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    auto v10 = co_await next_response(&c);
    REQUIRE(v10.has_value());
    CHECK(v10->header("Connection") == "keep-alive");
    CHECK(ts->server.connections() == 1);
}

Task<void> pipelined_client(TestServer* ts) {
    Conn c = co_await connect(ts);
    // One write: a slow request first, so answers in order cannot be luck.
    co_await send(&c, get("/slow?ms=100") + get("/count") + "POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi" +
                          get("/slow?ms=1") + get("/nope"));
    const char* expect[] = {"slow 100", "1 /count", "hi", "slow 1"};
    for (const char* body : expect) {
        auto r = co_await next_response(&c);
        REQUIRE(r.has_value());
        CHECK(r->body == body);
    }
    auto nope = co_await next_response(&c);
    REQUIRE(nope.has_value());
    CHECK(nope->status == 404);
}

Task<void> close_client(TestServer* ts) {
    Conn c = co_await connect(ts);
    co_await send(&c, get("/count", "Connection: close\r\n") + get("/count"));
    auto r = co_await next_response(&c);
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->header("Connection") == "close");
    bool eof = co_await read_to_eof(&c);
    CHECK(eof);
    CHECK(c.buf.empty());       // the pipelined second request was not answered
    CHECK(ts->stats.calls == 1);  // nor run
    Conn old = co_await connect(ts);  // HTTP/1.0 closes by default
    co_await send(&old, "GET /hello HTTP/1.0\r\n\r\n");
    auto r10 = co_await next_response(&old);
    REQUIRE(r10.has_value());
    CHECK(r10->header("Connection") == "close");
    bool eof10 = co_await read_to_eof(&old);
    CHECK(eof10);
}

}  // namespace

TEST_SUITE("server") {
    TEST_CASE("keep-alive: sequential requests, HEAD and HTTP/1.0 keep-alive on one connection") {
        run_test([](std::stop_token) -> Task<void> {
            TestServer ts;
            co_await serve_while(&ts, keep_alive_client(&ts));
        });
    }

    TEST_CASE("pipelined requests in one write are answered in order") {
        run_test([](std::stop_token) -> Task<void> {
            TestServer ts;
            co_await serve_while(&ts, pipelined_client(&ts));
        });
    }

    TEST_CASE("Connection: close and HTTP/1.0 are honoured") {
        run_test([](std::stop_token) -> Task<void> {
            TestServer ts;
            co_await serve_while(&ts, close_client(&ts));
        });
    }
}
