// parse_url: full URLs, bare paths against a default host and port, and
// what is refused.
#include <doctest/doctest.h>

#include <string>

#include "client_test_support.hpp"

using namespace reins;
using namespace reins::test;
using namespace reins::http;


TEST_SUITE("client") {
    TEST_CASE("parse_url: full URLs, bare paths, and what is refused") {
        auto a = parse_url("http://127.0.0.1:8080/ready");
        REQUIRE(a.has_value());
        CHECK(a->target.to_string() == "127.0.0.1:8080");
        CHECK(a->path == "/ready");
        auto b = parse_url("/health?deep=1#frag", "::1", 9000);
        REQUIRE(b.has_value());
        CHECK(b->target.to_string() == "[::1]:9000");
        CHECK(b->path == "/health?deep=1");
        auto c = parse_url("HTTP://[::1]?x");
        REQUIRE(c.has_value());
        CHECK(c->target.to_string() == "[::1]:80");
        CHECK(c->path == "/?x");
        auto d = parse_url("http://localhost:3000");
        REQUIRE(d.has_value());
        CHECK(d->target.host() == "127.0.0.1:3000");
        CHECK(d->path == "/");
        for (const char* bad : {"", "ready", "https://127.0.0.1/", "ftp://x/", "http://", "http://:80/",
                                "http://example.com/", "http://u@127.0.0.1/", "http://127.0.0.1:0/",
                                "http://127.0.0.1:99999/", "http://127.0.0.1:/", "http://::1/", "http://[::1/",
                                "http://127.0.0.1/a b", "/a\nb"}) {
            CAPTURE(bad);
            auto r = parse_url(bad);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().code == std::error_code(UV_EINVAL, libuv_category()));
            CHECK(r.error().context.find(std::string("url \"") + bad + "\"") == 0);
        }
        CHECK(parse_url("https://127.0.0.1/").error().context.find("https is not supported") != std::string::npos);
        CHECK(Target::unix_socket("/run/x.sock").to_string() == "unix:/run/x.sock");
    }
}
