// RequestParser (sans I/O): framing, pipelining, limits, and target decoding.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "reins/http/request_parser.hpp"

using namespace reins::http;
using State = RequestParser::State;

namespace {

// Feeds `input` in pieces of `step` bytes (0: at once) and collects every
// request; stops at the first failure.
struct Outcome {
    std::vector<ParsedRequest> requests;
    State state = State::need_more;
    RequestError error;
};

Outcome parse_all(const std::string& input, std::size_t step = 0, RequestLimits limits = {}) {
    RequestParser p(limits);
    Outcome out;
    std::string pending;
    std::size_t fed = 0;
    while (fed < input.size() || !pending.empty()) {
        std::size_t n = step == 0 ? input.size() - fed : std::min(step, input.size() - fed);
        pending += input.substr(fed, n);
        fed += n;
        std::size_t used = p.feed(pending);
        pending.erase(0, used);
        while (p.state() == State::ready) {
            out.requests.push_back(p.take());
            used = p.feed(pending);
            pending.erase(0, used);
        }
        if (p.state() == State::failed || p.state() == State::closed) break;
        if (n == 0) break;
    }
    out.state = p.state();
    if (out.state == State::failed) out.error = p.error();
    return out;
}

const std::string get_status = "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n";

}  // namespace

TEST_SUITE("request_parser") {
    TEST_CASE("a GET with a query: method, target, decoded path and query, headers in order") {
        auto o = parse_all("GET /v1/logs/my%20web?n=100&follow=1 HTTP/1.1\r\nHost: reins\r\nX-Thing:  spaced value \t\r\n"
                           "x-thing: two\r\nEmpty:\r\n\r\n");
        REQUIRE(o.requests.size() == 1);
        const Request& r = o.requests[0].request;
        CHECK(r.method == "GET");
        CHECK(r.target == "/v1/logs/my%20web?n=100&follow=1");
        CHECK(r.path == "/v1/logs/my web");
        CHECK(r.query.at("n") == "100");
        CHECK(r.query.at("follow") == "1");
        REQUIRE(r.headers.size() == 4);
        CHECK(r.headers[0].name == "Host");
        CHECK(r.headers[1].value == "spaced value");
        CHECK(r.headers[3].name == "Empty");
        CHECK(r.headers[3].value.empty());
        CHECK(find_header(r.headers, "X-THING") == "spaced value");  // the first of repeated names
        CHECK_FALSE(find_header(r.headers, "Missing").has_value());
        CHECK(r.body.empty());
        CHECK(o.requests[0].keep_alive);
        CHECK_FALSE(o.requests[0].http_1_0);
        CHECK(o.state == State::need_more);
    }

    TEST_CASE("bodies by Content-Length and chunked, fed whole or a byte at a time") {
        std::string cl = "POST /echo HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world";
        std::string chunked = "POST /echo HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
                              "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer-X: y\r\n\r\n";
        for (std::size_t step : {std::size_t(0), std::size_t(1), std::size_t(7)}) {
            for (const std::string& input : {cl, chunked}) {
                auto o = parse_all(input, step);
                REQUIRE(o.requests.size() == 1);
                CHECK(o.requests[0].request.body == "hello world");
                CHECK(o.requests[0].request.method == "POST");
                CHECK_FALSE(find_header(o.requests[0].request.headers, "Trailer-X").has_value());  // trailers dropped
            }
        }
    }

    TEST_CASE("pipelined requests come out one at a time, in order") {
        RequestParser p;
        std::string input = get_status + "POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi" + "GET /b HTTP/1.1\r\n\r\n";
        std::size_t used = p.feed(input);
        CHECK(used == get_status.size());
        REQUIRE(p.state() == State::ready);
        CHECK(p.feed("ignored while ready") == 0);
        CHECK(p.take().request.path == "/v1/status");
        input.erase(0, used);
        used = p.feed(input);
        REQUIRE(p.state() == State::ready);
        auto second = p.take();
        CHECK(second.request.path == "/a");
        CHECK(second.request.body == "hi");
        input.erase(0, used);
        used = p.feed(input);
        CHECK(used == input.size());
        REQUIRE(p.state() == State::ready);
        CHECK(p.take().request.path == "/b");
        CHECK(p.state() == State::need_more);
        CHECK_FALSE(p.started());
    }

    TEST_CASE("keep-alive: Connection: close, HTTP/1.0, and upgrades end the connection") {
        auto close = parse_all("GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET /next HTTP/1.1\r\n\r\n");
        REQUIRE(close.requests.size() == 1);
        CHECK_FALSE(close.requests[0].keep_alive);
        CHECK(close.state == State::closed);
        auto v10 = parse_all("GET / HTTP/1.0\r\n\r\n");
        REQUIRE(v10.requests.size() == 1);
        CHECK(v10.requests[0].http_1_0);
        CHECK_FALSE(v10.requests[0].keep_alive);
        auto v10ka = parse_all("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        REQUIRE(v10ka.requests.size() == 1);
        CHECK(v10ka.requests[0].keep_alive);
        auto up = parse_all("GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
        REQUIRE(up.requests.size() == 1);
        CHECK_FALSE(up.requests[0].keep_alive);
        auto connect = parse_all("CONNECT example.com:443 HTTP/1.1\r\n\r\n");
        REQUIRE(connect.requests.size() == 1);
        CHECK_FALSE(connect.requests[0].keep_alive);
        CHECK(connect.requests[0].request.path == "example.com:443");
    }

    TEST_CASE("malformed input fails with 400 and a reason") {
        for (const char* bad : {
                 "\x01\x02garbage\r\n\r\n",
                 "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
                 "GET / HTTP/9.9\r\n\r\n",
                 "GET / HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n",
                 "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                 "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                 "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                 "GET /a b HTTP/1.1\r\n\r\n",
                 "GET / HTTP/1.1\r\n: no name\r\n\r\n",
                 "GET / HTTP/1.1\r\nA: x\x01y\r\n\r\n",
                 "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",  // chunked not last
             }) {
            auto o = parse_all(bad);
            CHECK_MESSAGE(o.requests.empty(), std::string(bad));
            CHECK_MESSAGE(o.state == State::failed, std::string(bad));
            CHECK_MESSAGE(o.error.status == 400, std::string(bad));
            CHECK_FALSE(o.error.reason.empty());
        }
    }

    TEST_CASE("a bad percent escape or a NUL in the path or query is a 400") {
        for (const char* bad : {"GET /a%zz HTTP/1.1\r\n\r\n", "GET /a%2 HTTP/1.1\r\n\r\n", "GET /a%00b HTTP/1.1\r\n\r\n",
                                "GET /a?x=%0 HTTP/1.1\r\n\r\n", "GET /a?x=%00 HTTP/1.1\r\n\r\n"}) {
            auto o = parse_all(bad);
            CHECK_MESSAGE(o.state == State::failed, std::string(bad));
            CHECK(o.error.status == 400);
        }
    }

    TEST_CASE("a head over the limit is a 431, exactly at the limit it is fine") {
        RequestLimits small{128, 64};
        std::string head = "GET /x HTTP/1.1\r\nX: ";
        head += std::string(128 - head.size() - 4, 'a');
        head += "\r\n\r\n";
        REQUIRE(head.size() == 128);
        for (std::size_t step : {std::size_t(0), std::size_t(3)}) {
            auto ok = parse_all(head, step, small);
            CHECK(ok.requests.size() == 1);
            auto over = parse_all(head.substr(0, 20) + "a" + head.substr(20), step, small);  // one byte more
            CHECK(over.requests.empty());
            CHECK(over.error.status == 431);
        }
        auto long_url = parse_all("GET /" + std::string(100000, 'u') + " HTTP/1.1\r\n\r\n");
        CHECK(long_url.error.status == 431);
        std::string many = "GET / HTTP/1.1\r\n";
        for (int i = 0; i < 10000; ++i) many += "H" + std::to_string(i) + ": v\r\n";
        auto many_headers = parse_all(many + "\r\n", 1000);
        CHECK(many_headers.error.status == 431);
        // The limit is per request: pipelined heads each get their own.
        auto two = parse_all(head + head, 0, small);
        CHECK(two.requests.size() == 2);
    }

    TEST_CASE("a body over the limit is a 413, before it is sent when Content-Length says so") {
        RequestLimits small{1024, 10};
        RequestParser p(small);
        std::string head = "POST /x HTTP/1.1\r\nContent-Length: 11\r\n\r\n";
        CHECK(p.feed(head) <= head.size());
        CHECK(p.state() == State::failed);
        CHECK(p.error().status == 413);
        auto exact = parse_all("POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", 0, small);
        CHECK(exact.requests.size() == 1);
        auto chunked = parse_all("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n",
                                 2, small);
        CHECK(chunked.error.status == 413);
        auto trailers = parse_all("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " + std::string(2000, 't') +
                                      "\r\n\r\n",
                                  0, small);
        CHECK(trailers.error.status == 431);
    }

    TEST_CASE("a Transfer-Encoding other than chunked is a 501") {
        for (const char* te : {"gzip", "gzip, chunked", "identity"}) {
            auto o = parse_all(std::string("POST /x HTTP/1.1\r\nTransfer-Encoding: ") + te + "\r\n\r\n0\r\n\r\n");
            CHECK_MESSAGE(o.state == State::failed, std::string(te));
            CHECK_MESSAGE(o.error.status == 501, std::string(te));
        }
    }

    TEST_CASE("started, head_complete and expects_continue follow the request") {
        RequestParser p;
        CHECK_FALSE(p.started());
        p.feed("POST /x HT");
        CHECK(p.started());
        CHECK_FALSE(p.head_complete());
        p.feed("TP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
        CHECK(p.head_complete());
        CHECK(p.expects_continue());
        p.feed("a");
        CHECK_FALSE(p.expects_continue());
        p.feed("bc");
        REQUIRE(p.state() == State::ready);
        CHECK(p.take().request.body == "abc");
        CHECK_FALSE(p.started());
        CHECK_FALSE(p.head_complete());
    }

    TEST_CASE("split_target, percent_decode and parse_query") {
        CHECK(split_target("/a?b=c").path == "/a");
        CHECK(split_target("/a?b=c").query == "b=c");
        CHECK(split_target("/a#frag").path == "/a");
        CHECK(split_target("http://h:1/p/q?x=1").path == "/p/q");
        CHECK(split_target("http://h:1/p/q?x=1").query == "x=1");
        CHECK(split_target("http://h:1").path == "/");
        CHECK(split_target("http://h?x").path == "/");
        CHECK(split_target("http://h?x").query == "x");
        CHECK(split_target("*").path == "*");
        CHECK(percent_decode("a%2Fb+c") == "a/b+c");
        CHECK(percent_decode("a+c", true) == "a c");
        CHECK(percent_decode("%e2%9C%93") == "\xe2\x9c\x93");
        CHECK_FALSE(percent_decode("%").has_value());
        CHECK_FALSE(percent_decode("%g0").has_value());
        CHECK_FALSE(percent_decode("%00").has_value());
        auto q = parse_query("a=1&&b&c=x%20y+z&a=2&=e");
        REQUIRE(q.has_value());
        CHECK(q->at("a") == "2");
        CHECK(q->at("b").empty());
        CHECK(q->at("c") == "x y z");
        CHECK(q->at("") == "e");
        CHECK(parse_query("")->empty());
        CHECK_FALSE(parse_query("a=%").has_value());
    }

    TEST_CASE("a moved parser keeps parsing") {
        RequestParser a;
        a.feed("GET /moved HT");
        RequestParser b(std::move(a));
        b.feed("TP/1.1\r\n\r\n");
        REQUIRE(b.state() == State::ready);
        CHECK(b.take().request.path == "/moved");
    }
}
