// Server: routing on one connection: path parameters, the query, 404, 405
// with Allow, 500 on a throwing handler, and 100-continue.
#include <nlohmann/json.hpp>

#include "server_harness.hpp"

using namespace reins;
using namespace reins::test;
using nlohmann::json;

namespace {

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

}  // namespace

TEST_SUITE("server") {
    TEST_CASE("routing: params, query, 404, 405 with Allow, 500 on a throw, 100-continue") {
        run_test([](std::stop_token) -> Task<void> {
            TestServer ts;
            co_await serve_while(&ts, routing_client(&ts));
        });
    }
}
