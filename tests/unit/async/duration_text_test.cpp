#include <doctest/doctest.h>

#include "reins/async/duration_text.hpp"

using namespace std::chrono_literals;

TEST_SUITE("duration_text") {
TEST_CASE("durations read as a person writes them") {
    CHECK(reins::human_duration(0ms) == "0ms");
    CHECK(reins::human_duration(100ms) == "100ms");
    CHECK(reins::human_duration(999ms) == "999ms");
    CHECK(reins::human_duration(1000ms) == "1s");
    CHECK(reins::human_duration(1637ms) == "1.6s");
    CHECK(reins::human_duration(30000ms) == "30s");
    CHECK(reins::human_duration(59990ms) == "1m");
    CHECK(reins::human_duration(300000ms) == "5m");
    CHECK(reins::human_duration(150000ms) == "2m30s");
    CHECK(reins::human_duration(3600000ms) == "1h");
    CHECK(reins::human_duration(5400000ms) == "1h30m");
    CHECK(reins::human_duration(-250ms) == "-250ms");
}
}
