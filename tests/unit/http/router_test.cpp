// Router: literal and parameter segments, 404/405, HEAD, specificity, bad patterns.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "reins/async/loop.hpp"
#include "reins/http/router.hpp"

using namespace reins;
using namespace reins::http;

namespace {

// Handlers that say who they are (non-capturing coroutine lambdas).
Handler named(int which) {
    switch (which) {
    case 1: return [](Request, std::stop_token) -> Task<Response> { co_return Response::text("one"); };
    case 2: return [](Request, std::stop_token) -> Task<Response> { co_return Response::text("two"); };
    default: return [](Request, std::stop_token) -> Task<Response> { co_return Response::text("other"); };
    }
}

StreamHandler streamer() {
    return [](Request, ResponseStream, std::stop_token) -> Task<void> { co_return; };
}

// Runs the matched plain handler and returns its body.
std::string run(const Router::Match& m) {
    REQUIRE(m.handler != nullptr);
    Loop loop;
    Response r = loop.run((*m.handler)(Request{}, std::stop_token{}));
    REQUIRE(loop.close().has_value());
    return r.body;
}

Router api() {
    Router r;
    r.add("GET", "/v1/status", named(1))
        .add("POST", "/v1/services/{name}/restart", named(2))
        .add("POST", "/v1/services/{name}/stop", named(3))
        .add("GET", "/v1/services/all", named(1))
        .add("GET", "/v1/services/{name}", named(2))
        .add("GET", "/", named(3))
        .add_stream("GET", "/v1/events", streamer());
    return r;
}

}  // namespace

TEST_SUITE("router") {
    TEST_CASE("literal routes and path parameters, decoded per segment") {
        Router r = api();
        CHECK(r.size() == 7);
        auto status = r.match("GET", "/v1/status?verbose=1");
        REQUIRE(status.kind == Router::Match::Kind::found);
        CHECK(status.stream == nullptr);
        CHECK(run(status) == "one");
        CHECK(status.params.empty());
        auto restart = r.match("POST", "/v1/services/web%20api/restart");
        REQUIRE(restart.kind == Router::Match::Kind::found);
        CHECK(restart.params.at("name") == "web api");
        CHECK(run(restart) == "two");
        auto slash = r.match("POST", "/v1/services/a%2Fb/restart");  // %2F stays inside the segment
        REQUIRE(slash.kind == Router::Match::Kind::found);
        CHECK(slash.params.at("name") == "a/b");
        auto root = r.match("GET", "/");
        REQUIRE(root.kind == Router::Match::Kind::found);
        CHECK(run(root) == "other");
        auto encoded_literal = r.match("GET", "/v1/st%61tus");
        CHECK(encoded_literal.kind == Router::Match::Kind::found);
        auto events = r.match("GET", "/v1/events");
        REQUIRE(events.kind == Router::Match::Kind::found);
        CHECK(events.handler == nullptr);
        CHECK(events.stream != nullptr);
    }

    TEST_CASE("a literal segment beats a parameter, whatever the order of adding") {
        Router r = api();
        CHECK(run(r.match("GET", "/v1/services/all")) == "one");
        auto web = r.match("GET", "/v1/services/web");
        CHECK(run(web) == "two");
        CHECK(web.params.at("name") == "web");
    }

    TEST_CASE("unknown paths are not_found; empty, dot and trailing-slash segments match nothing") {
        Router r = api();
        for (const char* path : {"/nope", "/v1/status/", "/v1//status", "/v1/services//restart",
                                 "/v1/services/../restart", "/v1/services/./restart", "/v1/services/%2E%2E/restart",
                                 "v1/status", "", "*", "/v1/services/x/restart/extra"}) {
            auto m = r.match("POST", path);
            CHECK_MESSAGE(m.kind == Router::Match::Kind::not_found, std::string(path));
            CHECK(m.allow.empty());
        }
    }

    TEST_CASE("a known path with another method is method_not_allowed, with Allow") {
        Router r = api();
        auto m = r.match("DELETE", "/v1/status");
        CHECK(m.kind == Router::Match::Kind::method_not_allowed);
        CHECK(m.allow == "GET, HEAD");
        auto post = r.match("GET", "/v1/services/x/restart");
        CHECK(post.kind == Router::Match::Kind::method_not_allowed);
        CHECK(post.allow == "POST");
        auto stream = r.match("POST", "/v1/events");
        CHECK(stream.allow == "GET");  // a stream route answers no HEAD
        auto head_stream = r.match("HEAD", "/v1/events");
        CHECK(head_stream.kind == Router::Match::Kind::method_not_allowed);
        auto lower = r.match("get", "/v1/status");  // methods are case-sensitive (RFC 9110)
        CHECK(lower.kind == Router::Match::Kind::method_not_allowed);
    }

    TEST_CASE("HEAD uses the GET route unless a HEAD route exists") {
        Router r = api();
        auto head = r.match("HEAD", "/v1/services/web");
        REQUIRE(head.kind == Router::Match::Kind::found);
        CHECK(head.params.at("name") == "web");
        CHECK(run(head) == "two");
        r.add("HEAD", "/v1/status", named(3));
        CHECK(run(r.match("HEAD", "/v1/status")) == "other");
    }

    TEST_CASE("malformed patterns and duplicate routes are refused") {
        Router r;
        r.add("GET", "/a/{x}", named(1));
        for (const char* bad : {"", "a/b", "/a/{}", "/a/{x", "/a/x}", "/a/{x}{y}", "/a/b{x}", "/{x}/{x}"}) {
            CHECK_THROWS_AS_MESSAGE(r.add("GET", bad, named(1)), std::invalid_argument, std::string(bad));
        }
        CHECK_THROWS_AS(r.add("GET", "/a/{y}", named(2)), std::invalid_argument);  // same shape as /a/{x}
        CHECK_THROWS_AS(r.add("", "/b", named(2)), std::invalid_argument);
        CHECK_NOTHROW(r.add("POST", "/a/{y}", named(2)));
        CHECK_NOTHROW(r.add("GET", "/a/literal", named(2)));
        CHECK(r.size() == 3);
    }
}
