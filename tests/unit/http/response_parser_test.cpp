// ResponseParser from byte strings: every message is also fed split at every
// position and one byte at a time, and must parse the same way.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "reins/http/response_parser.hpp"

using namespace reins::http;
using State = ResponseParser::State;
using Failure = ResponseParser::Failure;

namespace {

struct Outcome {
    State state;
    Failure failure;
    ClientResponse response;
    std::string description;
};

Outcome outcome(ResponseParser& p) {
    return {p.state(), p.failure(), p.response(), p.state() == State::failed ? p.describe_failure() : std::string()};
}

void same(const Outcome& a, const Outcome& b) {
    CHECK(a.state == b.state);
    CHECK(a.failure == b.failure);
    CHECK(a.response.status == b.response.status);
    CHECK(a.description == b.description);
    if (a.state != State::done) return;  // what a failure leaves behind depends on where it hit
    CHECK(a.response.reason == b.response.reason);
    CHECK(a.response.body == b.response.body);
    REQUIRE(a.response.headers.size() == b.response.headers.size());
    for (std::size_t i = 0; i < a.response.headers.size(); ++i) {
        CHECK(a.response.headers[i].name == b.response.headers[i].name);
        CHECK(a.response.headers[i].value == b.response.headers[i].value);
    }
}

// Parses `bytes` whole, then split at every position, then byte by byte;
// `eof`: the stream ends after the bytes. Returns the whole-feed outcome
// after checking that every other feeding gives the same.
Outcome parse(std::string_view bytes, ResponseParserOptions o = {}, bool eof = false) {
    ResponseParser p(o);
    p.feed(bytes);
    if (eof) p.finish();
    Outcome whole = outcome(p);
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
        CAPTURE(cut);
        p.reset(o);  // the same parser, reused
        p.feed(bytes.substr(0, cut));
        p.feed(bytes.substr(cut));
        if (eof) p.finish();
        same(outcome(p), whole);
    }
    ResponseParser bytewise(o);
    for (char c : bytes) bytewise.feed(std::string_view(&c, 1));
    if (eof) bytewise.finish();
    same(outcome(bytewise), whole);
    return whole;
}

}  // namespace

TEST_SUITE("response_parser") {
    TEST_CASE("Content-Length response: status, reason, headers in order, body") {
        auto r = parse("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Empty:\r\nX-Pad:  a b  \r\n"
                       "x-dup: 1\r\nX-Dup: 2\r\nContent-Length: 5\r\n\r\nhello");
        REQUIRE(r.state == State::done);
        CHECK(r.response.status == 200);
        CHECK(r.response.reason == "OK");
        CHECK(r.response.body == "hello");
        REQUIRE(r.response.headers.size() == 6);
        CHECK(r.response.headers[0].name == "Content-Type");
        CHECK(r.response.headers[1].value.empty());
        CHECK(r.response.headers[2].value == "a b");  // surrounding whitespace dropped
        CHECK(*find_header(r.response.headers, "x-dup") == "1");
        CHECK(*find_header(r.response.headers, "content-length") == "5");
    }

    TEST_CASE("bytes after the response are ignored") {
        auto r = parse("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\nnoHTTP/1.1 200 OK\r\n\r\n");
        REQUIRE(r.state == State::done);
        CHECK(r.response.status == 503);
        CHECK(r.response.reason == "Service Unavailable");
        CHECK(r.response.body == "no");
    }

    TEST_CASE("chunked body with extensions and trailers") {
        auto r = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n");
        REQUIRE(r.state == State::done);
        CHECK(r.response.body == "hello world");
        CHECK(r.response.headers.size() == 1);  // trailers are not headers
        CHECK_FALSE(find_header(r.response.headers, "x-trailer"));
    }

    TEST_CASE("a body delimited by the end of the stream needs finish()") {
        std::string_view msg = "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nall of it";
        ResponseParser p;
        CHECK(p.feed(msg) == State::more);
        CHECK(p.head_complete());
        CHECK(p.finish() == State::done);
        CHECK(p.response().body == "all of it");
        auto r = parse(msg, {}, true);
        CHECK(r.state == State::done);
        CHECK(r.response.body == "all of it");
    }

    TEST_CASE("HEAD, 204 and 304 have no body, whatever Content-Length says") {
        ResponseParserOptions head;
        head.head_request = true;
        auto a = parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", head);
        CHECK(a.state == State::done);
        CHECK(a.response.body.empty());
        auto b = parse("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
        CHECK(b.state == State::done);
        CHECK(b.response.status == 204);
        auto c = parse("HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n");
        CHECK(c.state == State::done);
        CHECK(c.response.status == 304);
        auto d = parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        CHECK(d.state == State::done);
    }

    TEST_CASE("1xx interim responses are skipped, 101 is final") {
        auto r = parse("HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
                       "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                       "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
        REQUIRE(r.state == State::done);
        CHECK(r.response.status == 201);
        CHECK(r.response.reason == "Created");
        REQUIRE(r.response.headers.size() == 1);
        CHECK(r.response.headers[0].name == "Content-Length");
        auto u = parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nother");
        CHECK(u.state == State::done);
        CHECK(u.response.status == 101);
    }

    TEST_CASE("headers_only stops at the end of the head and ignores the body") {
        ResponseParserOptions o;
        o.headers_only = true;
        o.max_body = 4;
        auto r = parse("HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 100000\r\n\r\nxxxx", o);
        REQUIRE(r.state == State::done);
        CHECK(r.response.status == 302);
        CHECK(*find_header(r.response.headers, "location") == "/elsewhere");
        CHECK(r.response.body.empty());
        ResponseParser p(o);
        CHECK(p.feed("HTTP/1.1 200 OK\r\n") == State::more);
        CHECK(p.feed("\r\n") == State::done);  // no finish() needed for an EOF-delimited body
    }

    TEST_CASE("malformed responses carry llhttp's reason") {
        for (std::string_view bad : {std::string_view("garbage\x01\x02\r\n\r\n"), std::string_view("HTTP/1.1 2000 OK\r\n\r\n"),
                                     std::string_view("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
                                     std::string_view("HTTP/1.1 200 OK\r\nBad\x01Header: x\r\nContent-Length: 0\r\n\r\n"),
                                     std::string_view("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
                                     std::string_view("HTTP/1.1 3 Short\r\n\r\n"), std::string_view("HTTP/1.1 099 X\r\n\r\n")}) {
            CAPTURE(bad);
            auto r = parse(bad);
            CHECK(r.state == State::failed);
            CHECK(r.failure == Failure::malformed);
            CHECK(r.description.find("malformed response (HPE_") == 0);
        }
        ResponseParser p;
        p.feed("SSH-2.0-OpenSSH\r\n");
        CHECK(std::string(p.error_name()) == "HPE_INVALID_CONSTANT");
        CHECK(std::string(p.reason()).size() > 0);
        CHECK(p.feed("HTTP/1.1 200 OK\r\n\r\n") == State::failed);  // failed stays failed
    }

    TEST_CASE("head limits: bytes and header lines") {
        ResponseParserOptions o;
        o.max_head = 40;
        auto r = parse("HTTP/1.1 200 OK\r\nX-Long: " + std::string(64, 'v') + "\r\n\r\n", o);
        CHECK(r.failure == Failure::head_too_large);
        CHECK(r.description == "response head is over 40 bytes");
        ResponseParserOptions few;
        few.max_headers = 3;
        auto many = parse("HTTP/1.1 200 OK\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\n\r\n", few);
        CHECK(many.failure == Failure::head_too_large);
        CHECK(many.description == "response has more than 3 header lines");
        auto fits = parse("HTTP/1.1 200 OK\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n", few, true);
        CHECK(fits.state == State::done);
        // Endless interim responses count against the same head limit.
        std::string interim;
        for (int i = 0; i < 10; ++i) interim += "HTTP/1.1 100 Continue\r\n\r\n";
        auto endless = parse(interim, o);
        CHECK(endless.failure == Failure::head_too_large);
    }

    TEST_CASE("body limit: declared lengths fail at once, received bytes when they pass it") {
        ResponseParserOptions o;
        o.max_body = 10;
        ResponseParser p(o);
        CHECK(p.feed("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n") == State::failed);  // no body byte read
        CHECK(p.failure() == Failure::body_too_large);
        CHECK(p.describe_failure() == "response body of 11 bytes is over the limit of 10");
        auto chunked = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n", o);
        CHECK(chunked.failure == Failure::body_too_large);
        CHECK(chunked.description == "response body is over the limit of 10 bytes");
        auto eof = parse("HTTP/1.1 200 OK\r\n\r\n" + std::string(11, 'x'), o, true);
        CHECK(eof.failure == Failure::body_too_large);
        auto exact = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", o);
        CHECK(exact.state == State::done);
    }

    TEST_CASE("truncated responses say where the stream ended") {
        auto none = parse("", {}, true);
        CHECK(none.failure == Failure::truncated);
        CHECK(none.description == "connection closed before the status line");
        auto head = parse("HTTP/1.1 200 OK\r\nContent-", {}, true);
        CHECK(head.failure == Failure::truncated);
        CHECK(head.description == "connection closed in the response head (after 25 bytes)");
        auto body = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", {}, true);
        CHECK(body.failure == Failure::truncated);
        CHECK(body.description == "connection closed in the body (3 of 10 bytes)");
        auto chunk = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", {}, true);
        CHECK(chunk.failure == Failure::truncated);
        CHECK(chunk.description == "connection closed in the body (after 2 bytes)");
        auto interim = parse("HTTP/1.1 100 Continue\r\n\r\n", {}, true);
        CHECK(interim.failure == Failure::truncated);
    }

    TEST_CASE("take() moves the response out; reset() parses the next one") {
        ResponseParser p;
        REQUIRE(p.feed("HTTP/1.1 200 OK\r\nA: b\r\nContent-Length: 1\r\n\r\nx") == State::done);
        ClientResponse first = p.take();
        CHECK(first.body == "x");
        p.reset({});
        CHECK(p.state() == State::more);
        CHECK(p.bytes_seen() == 0);
        REQUIRE(p.feed("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n") == State::done);
        CHECK(p.response().status == 404);
        CHECK(p.response().headers.size() == 1);
        CHECK(first.headers.size() == 2);
    }
}
