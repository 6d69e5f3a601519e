// Durations, sizes and the other value forms shared by the config and the
// CLI flags.
#include <csignal>

#include "config_harness.hpp"
#include "reins/config/text.hpp"
#include "reins/config/units.hpp"
#include "reins/config/values.hpp"

using namespace std::chrono_literals;
using namespace reins::config;

TEST_SUITE("units") {

TEST_CASE("durations: the forms people write") {
    CHECK(*parse_duration("250ms") == 250ms);
    CHECK(*parse_duration("5s") == 5s);
    CHECK(*parse_duration("2m") == 2min);
    CHECK(*parse_duration("1h") == 1h);
    CHECK(*parse_duration("1.5s") == 1500ms);
    CHECK(*parse_duration("1m30s") == 90s);
    CHECK(*parse_duration("1h2m3s4ms") == 3723004ms);
    CHECK(*parse_duration("0") == 0ms);
    CHECK(*parse_duration("0s") == 0ms);
    CHECK(*parse_duration(" 10ms ") == 10ms);
    CHECK(*parse_duration("8760h") == max_duration);
}

TEST_CASE("durations: what is refused, and why") {
    auto why = [](std::string_view text) {
        auto r = parse_duration(text);
        REQUIRE_FALSE(r);
        CHECK(r.error().is(reins::Errc::config));
        return r.error().context;
    };
    CHECK(why("5 seconds").find("did you mean \"5s\"?") != std::string::npos);
    CHECK(why("2 minutes").find("did you mean \"2m\"?") != std::string::npos);
    CHECK(why("1 day").find("did you mean \"24h\"?") != std::string::npos);
    CHECK(why("5S").find("did you mean \"5s\"?") != std::string::npos);
    CHECK(why("-1s").find("cannot be negative") != std::string::npos);
    CHECK(why("30").find("needs a unit") != std::string::npos);
    CHECK(why("0.5ms").find("millisecond resolution") != std::string::npos);
    CHECK(why("8761h").find("at most 8760h") != std::string::npos);
    CHECK(why("99999999999999h").find("expected a duration") != std::string::npos);
    CHECK(why("").find("found \"\"") != std::string::npos);
    CHECK(why("s").find("expected a duration") != std::string::npos);
    CHECK(why("1.s").find("expected a duration") != std::string::npos);
    CHECK(why("1d").find("did you mean \"24h\"?") != std::string::npos);
    CHECK(why("+1s").find("expected a duration") != std::string::npos);
    CHECK(why("1s ago").find("expected a duration") != std::string::npos);
}

TEST_CASE("durations: format is the shortest exact form and reads back") {
    CHECK(format_duration(0ms) == "0s");
    CHECK(format_duration(10ms) == "10ms");
    CHECK(format_duration(1500ms) == "1500ms");
    CHECK(format_duration(30s) == "30s");
    CHECK(format_duration(90s) == "90s");
    CHECK(format_duration(5min) == "5m");
    CHECK(format_duration(2h) == "2h");
    for (long ms : {0L, 1L, 999L, 1000L, 61000L, 3600000L, 3600001L, 31536000000L})
        CHECK(*parse_duration(format_duration(Millis{ms})) == Millis{ms});
}

TEST_CASE("sizes: binary and decimal units, plain bytes") {
    CHECK(*parse_size("512KiB") == 512u * 1024);
    CHECK(*parse_size("10MiB") == 10u * 1024 * 1024);
    CHECK(*parse_size("1GiB") == 1ull << 30);
    CHECK(*parse_size("2TiB") == 2ull << 40);
    CHECK(*parse_size("10KB") == 10000u);
    CHECK(*parse_size("10kB") == 10000u);
    CHECK(*parse_size("10MB") == 10000000u);
    CHECK(*parse_size("1GB") == 1000000000u);
    CHECK(*parse_size("512B") == 512u);
    CHECK(*parse_size("1048576") == 1048576u);
    CHECK(*parse_size("1.5KiB") == 1536u);
    CHECK(*parse_size("0") == 0u);
}

TEST_CASE("sizes: what is refused, and why") {
    auto why = [](std::string_view text) {
        auto r = parse_size(text);
        REQUIRE_FALSE(r);
        return r.error().context;
    };
    CHECK(why("10XB").find("unknown unit 'XB'") != std::string::npos);
    CHECK(why("10mib").find("did you mean \"10MiB\"?") != std::string::npos);
    CHECK(why("10 MiB").find("did you mean \"10MiB\"?") != std::string::npos);
    CHECK(why("-1KiB").find("cannot be negative") != std::string::npos);
    CHECK(why("0.1KiB").find("whole number of bytes") != std::string::npos);
    CHECK(why("2000TiB").find("at most 1024TiB") != std::string::npos);
    CHECK(why("MiB").find("expected a size") != std::string::npos);
    CHECK(why("").find("expected a size") != std::string::npos);
}

TEST_CASE("sizes: format reads back") {
    CHECK(format_size(10u << 20) == "10MiB");
    CHECK(format_size(10000000) == "10MB");
    CHECK(format_size(1536) == "1536");
    CHECK(format_size(1000) == "1KB");
    for (uint64_t b : {0ull, 1ull, 1023ull, 1024ull, 1000ull, 1500ull, 10ull << 20, 3ull << 40})
        CHECK(*parse_size(format_size(b)) == b);
}

TEST_CASE("signals, restart policies, HTTP requests") {
    CHECK(*parse_signal("TERM") == SIGTERM);
    CHECK(*parse_signal("SIGINT") == SIGINT);
    CHECK(*parse_signal("hup") == SIGHUP);
    CHECK(*parse_signal("9") == 9);
    CHECK_FALSE(parse_signal("0"));
    CHECK_FALSE(parse_signal("99"));
    CHECK(parse_signal("TREM").error().context.find("did you mean \"TERM\"?") != std::string::npos);
    CHECK(signal_name(SIGTERM) == "TERM");
    CHECK(signal_name(40) == "40");
    CHECK(*parse_restart_mode("on-failure") == reins::supervisor::RestartMode::on_failure);
    CHECK(parse_restart_mode("on_failure").error().context.find("did you mean \"on-failure\"?") != std::string::npos);
    CHECK(to_string(reins::supervisor::RestartMode::always) == "always");
    auto a = parse_http_action("POST /admin/shutdown");
    REQUIRE(a);
    CHECK(a->method == "POST");
    CHECK(a->target == "/admin/shutdown");
    CHECK(parse_http_action("/x")->method == "POST");
    CHECK(parse_http_action("PUT http://127.0.0.1:8000/x")->method == "PUT");
    CHECK_FALSE(parse_http_action("post /x"));
    CHECK_FALSE(parse_http_action("POST x"));
    CHECK_FALSE(parse_http_action("POST https://x/"));
    CHECK(check_http_target("http://localhost:${PORT}/ready"));
    CHECK_FALSE(check_http_target("/a b"));
}

TEST_CASE("readiness regexes are compiled by RE2, within bounds") {
    CHECK(check_regex("ready in \\d+ ms"));
    CHECK(check_regex("a{3}b{2,5}"));
    CHECK(check_regex("^(?i)listening on [0-9.]+:\\d+$"));
    CHECK(check_regex("(?:GET|POST) .*? 200\\b"));
    CHECK(check_regex("a{1000}"));
    CHECK(check_regex(std::string(40, '(') + std::string(40, ')')));  // deep nesting costs no stack
    CHECK(check_regex(std::string(1024, 'a')));
    CHECK_FALSE(check_regex("a{20000}"));          // RE2: a repeat count is at most 1000
    CHECK_FALSE(check_regex("(a{100}){100}"));     // also when nested repeats multiply
    CHECK_FALSE(check_regex("a{100}{100}{100}"));
    auto unclosed = check_regex("(unclosed");
    REQUIRE_FALSE(unclosed);
    CHECK(unclosed.error().context == "expected a regex in RE2 syntax, found \"(unclosed\": missing ): (unclosed");
    auto long_one = check_regex(std::string(2000, 'a'));
    REQUIRE_FALSE(long_one);
    CHECK(long_one.error().context == "a readiness regex is at most 1024 characters long");
}

TEST_CASE("a readiness regex RE2 cannot match says what is not supported and names the pattern") {
    auto backref = check_regex("(ready)\\1");
    REQUIRE_FALSE(backref);
    CHECK(backref.error().is(reins::Errc::config));
    CHECK(backref.error().context ==
          "expected a regex in RE2 syntax, found \"(ready)\\\\1\": invalid escape sequence: \\1 "
          "(backreferences are not supported in RE2 syntax)");
    auto ahead = check_regex("ready(?! not)");
    REQUIRE_FALSE(ahead);
    CHECK(ahead.error().context ==
          "expected a regex in RE2 syntax, found \"ready(?! not)\": invalid perl operator: (?! "
          "(lookahead is not supported in RE2 syntax)");
    auto behind = check_regex("(?<=server )ready");
    REQUIRE_FALSE(behind);
    CHECK(behind.error().context.find("lookbehind is not supported") != std::string::npos);
    CHECK(behind.error().context.find("\"(?<=server )ready\"") != std::string::npos);
}

TEST_CASE("CLI flag forms: --ready, --health, --env") {
    using reins::supervisor::ProbeKind;
    CHECK(parse_ready_flag("tcp")->kind == ProbeKind::tcp);
    CHECK(parse_ready_flag("http:/ready")->target == "/ready");
    CHECK(parse_ready_flag("notify")->kind == ProbeKind::notify);
    CHECK(parse_ready_flag("log:listening on \\d+")->kind == ProbeKind::log);
    CHECK(parse_ready_flag("exec:pg_isready")->target == "pg_isready");
    CHECK(parse_ready_flag("none")->kind == ProbeKind::none);
    CHECK_FALSE(parse_ready_flag("http"));
    CHECK_FALSE(parse_ready_flag("udp"));
    CHECK_FALSE(parse_health_flag("notify"));
    CHECK_FALSE(parse_health_flag("log:x"));
    CHECK(parse_health_flag("exec:true")->kind == ProbeKind::exec);
    auto kv = parse_env_assignment("A=b=c");
    REQUIRE(kv);
    CHECK(kv->first == "A");
    CHECK(kv->second == "b=c");
    CHECK(parse_env_assignment("EMPTY=")->second.empty());
    CHECK_FALSE(parse_env_assignment("1A=x"));
    CHECK_FALSE(parse_env_assignment("noequals"));
}

TEST_CASE("text helpers: edit distance, closest key, quoting") {
    CHECK(edit_distance("restart", "restarts") == 1);
    CHECK(edit_distance("restrat", "restart") == 1);  // a swap is one edit
    CHECK(edit_distance("", "abc") == 3);
    CHECK(closest("restarts", {"command", "restart", "ready"}) == "restart");
    CHECK(closest("depends", {"depends_on", "env"}) == "depends_on");
    CHECK(closest("zzz", {"command", "restart"}).empty());
    CHECK(closest("evn", {"env", "cwd"}) == "env");
    CHECK(quote("a\"b\n") == "\"a\\\"b\\n\"");
    CHECK(quote(std::string(100, 'x'), 10) == "\"xxxxxxxxxx\xE2\x80\xA6\"");
    CHECK(quote("\x01") == "\"\\u0001\"");
    CHECK(is_env_name("A_1"));
    CHECK_FALSE(is_env_name("1A"));
    CHECK_FALSE(is_env_name("A-B"));
    CHECK(is_service_name("web-1.api_x"));
    CHECK_FALSE(is_service_name("-web"));
    CHECK_FALSE(is_service_name("my api"));
    CHECK_FALSE(is_service_name(std::string(65, 'a')));
}

}  // TEST_SUITE
