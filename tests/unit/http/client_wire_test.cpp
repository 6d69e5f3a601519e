// The probe client against scripted responders, for exact byte sequences:
// the request it writes, responses in odd pieces, bodies cut short, resets.
#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "client_test_support.hpp"

using namespace reins;
using namespace reins::test;
using namespace reins::http;


namespace {

// One request against a scripted responder on a fresh TCP listener.
Task<Result<ClientResponse>> scripted(Script script, std::string method, std::string path, RequestOptions o) {
    auto l = TcpListener::listen(loopback());
    REQUIRE(l.has_value());
    TaskScope scope = TaskScope::shielded();
    scope.spawn(respond(&*l, std::move(script), scope.token()));
    auto r = co_await request(Target::tcp(l->local()), std::move(method), std::move(path), std::move(o));
    scope.request_stop();  // a responder still holding on lets go
    co_await scope.join();
    co_return r;
}

}  // namespace

TEST_SUITE("client") {
    TEST_CASE("the request on the wire: Host, Connection: close, headers, body") {
        run_test([](std::stop_token) -> Task<void> {
            std::string seen;
            Script s{{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}};
            s.request = &seen;
            auto r = co_await scripted(s, "GET", "/ready?x=1", {});
            REQUIRE_MESSAGE(r.has_value(), r.error().message());
            CHECK(seen.rfind("GET /ready?x=1 HTTP/1.1\r\nHost: 127.0.0.1:", 0) == 0);
            CHECK(seen.find("\r\nConnection: close\r\n\r\n") != std::string::npos);
            RequestOptions o;
            o.headers = {{"Host", "api.local"}, {"X-Token", "t"}, {"Connection", "keep-alive"}};
            o.body = "{\"a\":1}";
            auto p = co_await scripted(s, "POST", "/admin/checkpoint", o);
            REQUIRE_MESSAGE(p.has_value(), p.error().message());
            CHECK(seen == "POST /admin/checkpoint HTTP/1.1\r\nConnection: close\r\nContent-Length: 7\r\n"
                          "Host: api.local\r\nX-Token: t\r\n\r\n{\"a\":1}");
            auto bad = co_await request(Target::tcp(loopback(closed_port())), "GET", "/a b");
            CHECK(bad.error().code == ClientErrc::invalid_request);  // refused before connecting
            RequestOptions inject;
            inject.headers = {{"X", "a\r\nEvil: 1"}};
            auto evil = co_await request(Target::tcp(loopback(1)), "GET", "/", inject);
            CHECK(evil.error().code == ClientErrc::invalid_request);
        });
    }

    TEST_CASE("split status line, chunked body in pieces, EOF-delimited body, 1xx first") {
        run_test([](std::stop_token) -> Task<void> {
            Script split{{"HT", "TP/1.", "1 2", "00 O", "K\r\nX: y\r", "\n\r", "\n"}};
            auto a = co_await scripted(split, "GET", "/", with_timeout_ms(5000));
            REQUIRE_MESSAGE(a.has_value(), a.error().message());  // the EOF ends its (empty) body
            CHECK(a->status == 200);
            CHECK(*find_header(a->headers, "x") == "y");
            Script chunked{{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab", "cd\r\n3\r\nefg\r\n",
                            "0\r\n\r\n"}};
            chunked.hold = true;  // the end of the chunks ends it, not the connection
            auto c = co_await scripted(chunked, "GET", "/", {});
            REQUIRE_MESSAGE(c.has_value(), c.error().message());
            CHECK(c->body == "abcdefg");
            Script eof{{"HTTP/1.0 200 OK\r\n\r\nuntil ", "the end"}};
            auto e = co_await scripted(eof, "GET", "/", {});
            REQUIRE_MESSAGE(e.has_value(), e.error().message());
            CHECK(e->body == "until the end");
            Script interim{{"HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok"}};
            interim.hold = true;
            auto i = co_await scripted(interim, "POST", "/admin/shutdown", {});
            REQUIRE_MESSAGE(i.has_value(), i.error().message());
            CHECK(i->status == 202);
            CHECK(i->body == "ok");
        });
    }

    TEST_CASE("a body cut short, and a reset, are closed early") {
        run_test([](std::stop_token) -> Task<void> {
            Script short_body{{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"}};
            auto cut = co_await scripted(short_body, "GET", "/", {});
            REQUIRE_FALSE(cut.has_value());
            CHECK(cut.error().code == ClientErrc::closed_early);
            CHECK_MESSAGE(has(cut.error(), "connection closed in the body (3 of 10 bytes)"), cut.error().message());
            Script rst{{"HTTP/1.1 200 OK\r\nContent-"}};
            rst.reset = true;
            auto reset = co_await scripted(rst, "GET", "/", {});
            REQUIRE_FALSE(reset.has_value());
            CHECK(reset.error().code == ClientErrc::closed_early);
            CHECK_MESSAGE(has(reset.error(), "connection reset in the response head (after 25 bytes)"),
                          reset.error().message());
            // Reset while the client still sends a large body: the write or the read fails, either way early.
            Script rude;
            rude.read_request = false;
            rude.reset = true;
            RequestOptions big;
            big.body.assign(8 << 20, 'b');
            auto unsent = co_await scripted(rude, "POST", "/upload", big);
            REQUIRE_FALSE(unsent.has_value());
            CHECK_MESSAGE(unsent.error().code == ClientErrc::closed_early, unsent.error().message());
        });
    }
}
