// Server: over max_connections, and out of file descriptors: 503 and close,
// then served again once there is room.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "fd_exhaustion.hpp"
#include "server_harness.hpp"

using namespace reins;
using namespace reins::test;
using nlohmann::json;

namespace {

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

}  // namespace

TEST_SUITE("server") {
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
}
