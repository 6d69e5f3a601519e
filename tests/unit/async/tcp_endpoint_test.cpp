// Endpoints: numeric IPv4 and IPv6 and localhost, parsed without DNS.
#include <string>
#include <string_view>

#include "harness.hpp"
#include "reins/async/tcp.hpp"

using namespace reins;

TEST_SUITE("tcp") {
    TEST_CASE("parse_endpoint takes numeric IPv4 and IPv6 and localhost") {
        auto a = parse_endpoint("127.0.0.1", 80);
        REQUIRE(a.has_value());
        CHECK(a->to_string() == "127.0.0.1:80");
        CHECK(a->port() == 80);
        auto b = parse_endpoint("::1", 8080);
        REQUIRE(b.has_value());
        CHECK(b->to_string() == "[::1]:8080");
        CHECK(b->port() == 8080);
        auto c = parse_endpoint("[::1]", 1);
        REQUIRE(c.has_value());
        CHECK(c->to_string() == "[::1]:1");
        auto d = parse_endpoint("localhost", 65535);
        REQUIRE(d.has_value());
        CHECK(d->to_string() == "127.0.0.1:65535");
        auto e = parse_endpoint("0.0.0.0", 0);
        REQUIRE(e.has_value());
        CHECK(e->port() == 0);
        CHECK(Endpoint{}.to_string() == "(no address)");
    }

    TEST_CASE("parse_endpoint rejects names, junk and bad ports without DNS") {
        for (const char* bad : {"example.com", "", "1.2.3", "127.0.0.1:80", "[127.0.0.1]", "::1]", "256.0.0.1"}) {
            auto r = parse_endpoint(bad, 80);
            CHECK_MESSAGE(!r.has_value(), bad);
            if (!r) {
                CHECK(r.error().code == uv_error(UV_EINVAL).code);
                CHECK(r.error().message().find(std::string("\"") + bad + "\"") != std::string::npos);
            }
        }
        auto nul = parse_endpoint(std::string_view("127.0.0.1\0junk", 14), 80);
        CHECK_FALSE(nul.has_value());
        for (int port : {-1, 65536}) {
            auto r = parse_endpoint("127.0.0.1", port);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().message().find(std::to_string(port)) != std::string::npos);
        }
    }
}
