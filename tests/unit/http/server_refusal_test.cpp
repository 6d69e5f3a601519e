// Server: what it answers itself, before any handler: malformed, oversized
// and unsupported requests, and heads or bodies that stall.
#include <string>

#include "server_harness.hpp"

using namespace reins;
using namespace reins::test;

namespace {

Task<void> refusals_client(TestServer* ts) {
    co_await expect_refusal(ts, "GET /count HTTP/1.1\r\nBad Header: x\r\n\r\n", 400);
    co_await expect_refusal(ts, std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), 400);  // TLS
    co_await expect_refusal(ts, "GET /count%zz HTTP/1.1\r\n\r\n", 400);
    co_await expect_refusal(ts, "GET /count HTTP/1.1\r\nX: " + std::string(5000, 'a') + "\r\n\r\n", 431);
    co_await expect_refusal(ts, "POST /echo HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", 413);
    co_await expect_refusal(ts,
                            "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                std::string("1000\r\n") + std::string(4096, 'b') + "\r\n10\r\n" + std::string(16, 'c') + "\r\n",
                            413);
    co_await expect_refusal(ts, "POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
    // A good request, then garbage: the first is answered, then 400 and close.
    Conn c = co_await connect(ts);
    co_await send(&c, get("/hello") + "NOT HTTP AT ALL\r\n\r\n");
    auto ok = co_await next_response(&c);
    REQUIRE(ok.has_value());
    CHECK(ok->status == 200);
    auto bad = co_await next_response(&c);
    REQUIRE(bad.has_value());
    CHECK(bad->status == 400);
    bool eof = co_await read_to_eof(&c);
    CHECK(eof);
    // Chunked bodies within the limit are decoded for the handler.
    Conn d = co_await connect(ts);
    co_await send(&d, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    auto chunked = co_await next_response(&d);
    REQUIRE(chunked.has_value());
    CHECK(chunked->body == "abcde");
}

Task<void> slow_client(TestServer* ts) {
    // Part of a head, then silence: 408 once the head deadline (300 ms) passes.
    Conn c = co_await connect(ts);
    auto t0 = Clock::now();
    co_await send(&c, "GET /count HTTP/1.1\r\nHost: sl");
    auto r = co_await next_response(&c);
    REQUIRE(r.has_value());
    CHECK(r->status == 408);
    CHECK(Clock::now() - t0 >= 290ms);
    CHECK(Clock::now() - t0 < 3s);
    bool eof = co_await read_to_eof(&c);
    CHECK(eof);
    // Dripping a byte at a time does not extend the deadline.
    Conn drip = co_await connect(ts);
    auto t1 = Clock::now();
    std::string head = get("/count");
    Result<void> w;
    for (std::size_t i = 0; i < head.size() && w; ++i) {
        auto wrote = co_await drip.s.write(head.substr(i, 1));
        w = std::move(wrote);
        auto z = co_await sleep(40ms);
        (void)z;
        if (Clock::now() - t1 > 1s) break;
    }
    auto r2 = co_await next_response(&drip);
    REQUIRE(r2.has_value());
    CHECK(r2->status == 408);
    // A whole head and a body that stalls: 408 after the body deadline.
    Conn body = co_await connect(ts);
    co_await send(&body, "POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    auto r3 = co_await next_response(&body);
    REQUIRE(r3.has_value());
    CHECK(r3->status == 408);
    // An idle connection that never sent a byte is closed without a word.
    Conn idle = co_await connect(ts);
    bool closed = co_await read_to_eof(&idle);
    CHECK(closed);
    CHECK(idle.buf.empty());
    CHECK(ts->stats.calls == 0);
}

}  // namespace

TEST_SUITE("server") {
    TEST_CASE("malformed, oversized and unsupported requests: 400/431/413/501 and close, no handler") {
        run_test([](std::stop_token) -> Task<void> {
            TestServer ts;
            co_await serve_while(&ts, refusals_client(&ts));
        });
    }

    TEST_CASE("stalled heads and bodies get 408 after the deadline; idle connections just close") {
        run_test([](std::stop_token) -> Task<void> {
            TestServer ts;
            co_await serve_while(&ts, slow_client(&ts));
        });
    }
}
