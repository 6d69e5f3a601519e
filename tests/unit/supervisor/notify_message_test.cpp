#include <doctest/doctest.h>

#include <string>

#include "reins/supervisor/notify_message.hpp"

using namespace reins::supervisor;
using namespace std::string_literals;

TEST_SUITE("notify_message") {
    TEST_CASE("each assignment reins acts on") {
        auto m = parse_notify_message("READY=1");
        REQUIRE(m);
        CHECK(m->ready);
        CHECK_FALSE(m->stopping);
        CHECK_FALSE(m->status);
        CHECK_FALSE(m->empty());

        m = parse_notify_message("STOPPING=1");
        REQUIRE(m);
        CHECK(m->stopping);
        CHECK_FALSE(m->ready);

        m = parse_notify_message("WATCHDOG=1");
        REQUIRE(m);
        CHECK(m->watchdog);
        CHECK_FALSE(m->watchdog_trigger);

        m = parse_notify_message("WATCHDOG=trigger");
        REQUIRE(m);
        CHECK(m->watchdog_trigger);
        CHECK_FALSE(m->watchdog);

        m = parse_notify_message("MAINPID=4242");
        REQUIRE(m);
        REQUIRE(m->main_pid);
        CHECK(*m->main_pid == 4242);
        CHECK_FALSE(m->bad_main_pid);
    }

    TEST_CASE("several assignments in one message, as systemd-notify sends them") {
        auto m = parse_notify_message("READY=1\nSTATUS=hello there\nMAINPID=77\n");
        REQUIRE(m);
        CHECK(m->ready);
        REQUIRE(m->status);
        CHECK(*m->status == "hello there");
        REQUIRE(m->main_pid);
        CHECK(*m->main_pid == 77);
    }

    TEST_CASE("STATUS= keeps everything after the first '=', and may be empty") {
        auto m = parse_notify_message("STATUS=a=b; c=d");
        REQUIRE(m);
        CHECK(*m->status == "a=b; c=d");
        m = parse_notify_message("STATUS=");
        REQUIRE(m);
        REQUIRE(m->status);
        CHECK(m->status->empty());
        CHECK_FALSE(m->empty());  // an empty STATUS= clears the text
    }

    TEST_CASE("the last value of a repeated key counts") {
        auto m = parse_notify_message("STATUS=one\nSTATUS=two");
        REQUIRE(m);
        CHECK(*m->status == "two");
        m = parse_notify_message("MAINPID=10\nMAINPID=x");
        REQUIRE(m);
        CHECK_FALSE(m->main_pid);
        CHECK(m->bad_main_pid);
        m = parse_notify_message("MAINPID=x\nMAINPID=10");
        REQUIRE(m);
        CHECK(*m->main_pid == 10);
        CHECK_FALSE(m->bad_main_pid);
    }

    TEST_CASE("values that are not the one reins acts on do nothing") {
        auto m = parse_notify_message("READY=0\nSTOPPING=yes\nWATCHDOG=0");
        REQUIRE(m);
        CHECK(m->empty());
    }

    TEST_CASE("MAINPID= must be a pid above 1") {
        for (const char* bad : {"MAINPID=", "MAINPID=0", "MAINPID=1", "MAINPID=-5", "MAINPID=12x", "MAINPID= 12",
                                "MAINPID=99999999999999"}) {
            CAPTURE(bad);
            auto m = parse_notify_message(bad);
            REQUIRE(m);
            CHECK_FALSE(m->main_pid);
            CHECK(m->bad_main_pid);
            CHECK(m->empty());
        }
    }

    TEST_CASE("BARRIER=1, unknown keys and lines without '=' ask for nothing") {
        auto m = parse_notify_message("BARRIER=1");
        REQUIRE(m);
        CHECK(m->barrier);
        CHECK(m->empty());
        m = parse_notify_message("RELOADING=1\nERRNO=2\nFDSTORE=1\nnonsense\n\n");
        REQUIRE(m);
        CHECK(m->empty());
        m = parse_notify_message("");
        REQUIRE(m);
        CHECK(m->empty());
    }

    TEST_CASE("keys are exact: no spaces, no lower case, no prefixes") {
        auto m = parse_notify_message("ready=1\n READY=1\nREADY =1\nXREADY=1");
        REQUIRE(m);
        CHECK_FALSE(m->ready);
    }

    TEST_CASE("a message with a NUL byte is refused whole") {
        CHECK_FALSE(parse_notify_message("READY=1\0STOPPING=1"s));
        CHECK_FALSE(parse_notify_message("STATUS=a\0"s));
    }
}
