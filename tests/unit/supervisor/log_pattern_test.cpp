// LogPattern: ready.log patterns with RE2 — found anywhere in a line, in
// bounded stack whatever the line's length.
#include <doctest/doctest.h>

#include <string>

#include "reins/supervisor/log_pattern.hpp"

using namespace reins::supervisor;

TEST_SUITE("log_pattern") {
    TEST_CASE("a pattern is found anywhere in a line, like regex_search") {
        auto p = LogPattern::compile("ready in \\d+ ms");
        REQUIRE(p);
        CHECK(p->found_in("server ready in 12 ms, pid 7"));
        CHECK_FALSE(p->found_in("server ready in ms"));
        auto anchored = LogPattern::compile("^armed$");
        REQUIRE(anchored);
        CHECK(anchored->found_in("armed"));
        CHECK_FALSE(anchored->found_in("disarmed"));
        CHECK_FALSE(anchored->found_in("armed\r"));  // a CRLF line keeps its '\r'
        auto lazy = LogPattern::compile("(?i)listening on (?:[0-9.]+):(\\d+?)\\b");
        REQUIRE(lazy);
        CHECK(lazy->found_in("INFO Listening on 127.0.0.1:8080"));
    }

    TEST_CASE("a 10 MB line costs no stack: std::regex overflowed it on 60 000 characters") {
        auto p = LogPattern::compile(".*ready");
        REQUIRE(p);
        std::string line(10'000'000, 'x');
        CHECK_FALSE(p->found_in(line));
        line += " ready";
        CHECK(p->found_in(line));
        auto alt = LogPattern::compile("(x|y)*z");
        REQUIRE(alt);
        CHECK_FALSE(alt->found_in(std::string(1'000'000, 'x')));
    }

    TEST_CASE("what RE2 does not support is an error saying so") {
        auto backref = LogPattern::compile("(a)\\1");
        REQUIRE_FALSE(backref);
        CHECK(backref.error().is(reins::Errc::config));
        CHECK(backref.error().context == "invalid escape sequence: \\1 (backreferences are not supported in RE2 syntax)");
        auto behind = LogPattern::compile("(?<=a)b");
        REQUIRE_FALSE(behind);
        CHECK(behind.error().context.find("lookbehind is not supported") != std::string::npos);
        auto big = LogPattern::compile(std::string(LogPattern::max_size + 1, 'a'));
        REQUIRE_FALSE(big);
        CHECK(big.error().context == "a readiness regex is at most 1024 characters long");
        // Within the size bound but past max_mem once repeats are expanded.
        std::string huge;
        for (int i = 0; i < 100; ++i) huge += "a{1000}";
        auto too_large = LogPattern::compile(huge);
        REQUIRE_FALSE(too_large);
        CHECK(too_large.error().context == "pattern too large - compile failed");
    }
}
