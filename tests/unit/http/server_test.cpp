// Server against raw sockets: keep-alive, pipelining, routing, limits,
// malformed and stalled requests, peer credentials, connection cap, stop.
// Streaming responses are in server_stream_test.cpp.
#include <nlohmann/json.hpp>

#include "fd_exhaustion.hpp"
#include "server_harness.hpp"

using namespace reins;
using namespace reins::test;
using nlohmann::json;

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

// Sends `bytes`, expects `status` then the connection closed, and no handler run.
Task<void> expect_refusal(TestServer* ts, std::string bytes, int status) {
    Conn c = co_await connect(ts);
    co_await send(&c, std::move(bytes));
    auto r = co_await next_response(&c);
    REQUIRE(r.has_value());
    CHECK(r->status == status);
    CHECK(r->header("Connection") == "close");
    CHECK(r->header("Content-Type") == "application/json");
    CHECK(json::parse(r->body).contains("error"));
    bool eof = co_await read_to_eof(&c);
    CHECK(eof);
    CHECK(ts->stats.calls == 0);
}

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

Task<void> routing_client(TestServer* ts) {
    Conn c = co_await connect(ts);
    co_await send(&c, get("/params/a%20b/x/c%2Fd"));
    auto p = co_await next_response(&c);
    REQUIRE(p.has_value());
    CHECK(json::parse(p->body) == json{{"a", "a b"}, {"b", "c/d"}});
    co_await send(&c, get("/query?n=100&follow=1&s=a+b%21&empty"));
    auto q = co_await next_response(&c);
    REQUIRE(q.has_value());
    CHECK(json::parse(q->body) == json{{"n", "100"}, {"follow", "1"}, {"s", "a b!"}, {"empty", ""}});
    co_await send(&c, get("/no/such/thing"));
    auto nf = co_await next_response(&c);
    REQUIRE(nf.has_value());
    CHECK(nf->status == 404);
    CHECK(json::parse(nf->body).contains("error"));
    co_await send(&c, "DELETE /hello HTTP/1.1\r\n\r\n");
    auto na = co_await next_response(&c);
    REQUIRE(na.has_value());
    CHECK(na->status == 405);
    CHECK(na->header("Allow") == "GET, HEAD");
    co_await send(&c, get("/throw"));  // a throwing handler is a 500, not a dead connection
    auto err = co_await next_response(&c);
    REQUIRE(err.has_value());
    CHECK(err->status == 500);
    co_await send(&c, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    auto cont = co_await next_response(&c);
    REQUIRE(cont.has_value());
    CHECK(cont->status == 100);
    co_await send(&c, "xyz");
    auto echoed = co_await next_response(&c);
    REQUIRE(echoed.has_value());
    CHECK(echoed->body == "xyz");
    CHECK(ts->server.connections() == 1);  // the same connection all along
}

Task<void> whoami_client(TestServer* ts) {
    Conn c = co_await connect(ts);
    co_await send(&c, get("/whoami"));
    auto r = co_await next_response(&c);
    REQUIRE(r.has_value());
    json j = json::parse(r->body);
    CHECK(j["pid"] == ::getpid());
    CHECK(j["uid"] == ::getuid());
    CHECK(j["gid"] == ::getgid());
}

Task<void> refused_peer_client(TestServer* ts) { co_await expect_refusal(ts, get("/count"), 403); }

Task<void> cap_client(TestServer* ts) {
    Conn a = co_await connect(ts);
    Conn b = co_await connect(ts);
    for (Conn* c : {&a, &b}) {
        co_await send(c, get("/hello"));
        auto r = co_await next_response(c);
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
    }
    CHECK(ts->server.connections() == 2);
    Conn over = co_await connect(ts);
    auto busy = co_await next_response(&over);
    REQUIRE(busy.has_value());
    CHECK(busy->status == 503);
    CHECK(busy->header("Retry-After") == "1");
    bool eof = co_await read_to_eof(&over);
    CHECK(eof);
    a.s.close();
    auto one_left = [ts] { return ts->server.connections() == 1; };
    bool freed = co_await eventually(one_left);
    CHECK(freed);
    Conn again = co_await connect(ts);
    co_await send(&again, get("/hello"));
    auto ok = co_await next_response(&again);
    REQUIRE(ok.has_value());
    CHECK(ok->status == 200);
}

// Out of descriptors: the reserve answers 503 naming the limit (no reset),
// and once descriptors are free again the server serves as before.
Task<void> no_fds_client(TestServer* ts) {
    Conn c = co_await connect(ts);
    std::optional<RawResponse> r;
    {
        FdExhaustion out;
        co_await send(&c, get("/hello"));
        auto got = co_await next_response(&c);
        r = std::move(got);
    }
    REQUIRE(r.has_value());
    CHECK(r->status == 503);
    CHECK(r->header("Retry-After") == "1");
    const std::string error = json::parse(r->body).value("error", "");
    CHECK(error.find("RLIMIT_NOFILE") != std::string::npos);
    CHECK(error.find("ulimit -n") != std::string::npos);
    bool eof = co_await read_to_eof(&c);
    CHECK(eof);
    c.s.close();
    for (int i = 0; i < 2; ++i) {  // the reserve is back: exhaustion again is answered again
        Conn again = co_await connect(ts);
        co_await send(&again, get("/hello"));
        auto ok = co_await next_response(&again);
        REQUIRE(ok.has_value());
        CHECK(ok->status == 200);
    }
    Conn second = co_await connect(ts);
    std::optional<RawResponse> r2;
    {
        FdExhaustion out;
        co_await send(&second, get("/hello"));
        auto got = co_await next_response(&second);
        r2 = std::move(got);
    }
    REQUIRE(r2.has_value());
    CHECK(r2->status == 503);
}

Task<void> stop_client(TestServer* ts) {
    Conn conns[3];
    for (Conn& c : conns) {
        Conn fresh = co_await connect(ts);
        c = std::move(fresh);
        co_await send(&c, get("/hello"));
        auto r = co_await next_response(&c);
        REQUIRE(r.has_value());
    }
    Conn waiting = co_await connect(ts);  // a handler in progress sees the stop too
    co_await send(&waiting, get("/wait"));
    auto busy = [ts] { return ts->stats.calls == 1; };
    bool started = co_await eventually(busy);
    REQUIRE(started);
    auto t0 = Clock::now();
    ts->stop.request_stop();
    for (Conn& c : conns) {
        bool eof = co_await read_to_eof(&c, 2s);
        CHECK(eof);
    }
    auto answer = co_await next_response(&waiting, false, 2s);  // written even though stopping
    REQUIRE(answer.has_value());
    CHECK(answer->status == 503);
    CHECK(ts->stats.saw_stop);
    auto ended = [ts] { return ts->ended.has_value(); };
    bool done = co_await eventually(ended, 2s);
    CHECK(done);
    CHECK(Clock::now() - t0 < 1s);
    auto gone = co_await unix_connect(ts->path());  // the listener is closed and its file removed
    CHECK_FALSE(gone.has_value());
}

// The socket file removed (its folder deleted): a new listener at the same
// path takes over; the connection already open is still served.
Task<void> replaced_listener_client(TestServer* ts) {
    Conn old = co_await connect(ts);
    co_await send(&old, get("/hello"));  // answered: accepted before the swap
    auto first = co_await next_response(&old);
    REQUIRE(first.has_value());
    const std::string path = ts->path();
    REQUIRE(::unlink(path.c_str()) == 0);
    auto nobody = co_await unix_connect(path);
    CHECK_FALSE(nobody.has_value());
    ts->server.replace_listener(listen_at(path));
    CHECK(ts->server.path() == path);
    Conn fresh = co_await connect(ts);
    for (Conn* c : {&fresh, &old}) {
        co_await send(c, get("/hello"));
        auto r = co_await next_response(c);
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
    }
}

}  // namespace

TEST_SUITE("server") {
    TEST_CASE("replace_listener: a new socket at the path is served, open connections go on") {
        run_test([](std::stop_token) -> Task<void> {
            TestServer ts;
            co_await serve_while(&ts, replaced_listener_client(&ts));
        });
    }
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
    TEST_CASE("routing: params, query, 404, 405 with Allow, 500 on a throw, 100-continue") {
        run_test([](std::stop_token) -> Task<void> {
            TestServer ts;
            co_await serve_while(&ts, routing_client(&ts));
        });
    }
    TEST_CASE("peer credentials carry our pid, uid and gid; allow_owner_and_root lets us in") {
        run_test([](std::stop_token) -> Task<void> {
            auto o = fast_options();
            o.allow_peer = http::allow_owner_and_root();
            TestServer ts(o);
            co_await serve_while(&ts, whoami_client(&ts));
        });
    }
    TEST_CASE("a peer the predicate refuses gets 403 and is closed") {
        run_test([](std::stop_token) -> Task<void> {
            auto o = fast_options();
            o.allow_peer = [](const PeerCredentials& p) { return p.uid != ::getuid(); };
            TestServer ts(o);
            co_await serve_while(&ts, refused_peer_client(&ts));
        });
    }
    TEST_CASE("over max_connections a client gets 503 and close; a freed slot serves again") {
        run_test([](std::stop_token) -> Task<void> {
            auto o = fast_options();
            o.max_connections = 2;
            o.head_timeout = 30s;  // the two idle connections must stay
            TestServer ts(o);
            co_await serve_while(&ts, cap_client(&ts));
        });
    }
    TEST_CASE("out of file descriptors a client gets 503 naming the limit, not a reset; then served again") {
        run_test([](std::stop_token) -> Task<void> {
            TestServer ts;
            co_await serve_while(&ts, no_fds_client(&ts));
        });
    }
    TEST_CASE("stop closes idle keep-alive connections and stops handlers promptly") {
        run_test([](std::stop_token) -> Task<void> {
            auto o = fast_options();
            o.head_timeout = 30s;  // only the stop can end them in time
            TestServer ts(o);
            co_await serve_while(&ts, stop_client(&ts));
        });
    }
}
