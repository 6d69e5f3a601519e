// The readiness probe schedule (readiness_probe_wait): how late a service's
// readiness is seen, and how often a slow starter is probed.
#include <doctest/doctest.h>

#include "reins/supervisor/probe.hpp"

using reins::supervisor::Millis;
using reins::supervisor::readiness_probe_wait;

namespace {

// Simulates probing a service that becomes ready `ready_at` after its first
// probe (probes themselves take no time): when is it seen, after how many probes.
struct Seen {
    Millis at;
    int probes;
};
Seen simulate(Millis ready_at, Millis first = Millis(1), Millis most = Millis(1000)) {
    Millis now{0};
    int probes = 1;
    while (now < ready_at) {
        now += readiness_probe_wait(now, first, most);
        ++probes;
    }
    return {now, probes};
}

}  // namespace

TEST_SUITE("readiness_schedule") {
    TEST_CASE("the first retry comes after ready.interval, then waits grow with the time waited") {
        CHECK(readiness_probe_wait(Millis(0), Millis(1), Millis(1000)) == Millis(1));
        CHECK(readiness_probe_wait(Millis(0), Millis(50), Millis(1000)) == Millis(50));
        CHECK(readiness_probe_wait(Millis(1600), Millis(1), Millis(1000)) == Millis(100));
        CHECK(readiness_probe_wait(Millis(60000), Millis(1), Millis(1000)) == Millis(1000));
        // An interval above the maximum wins: the user asked for it.
        CHECK(readiness_probe_wait(Millis(60000), Millis(5000), Millis(1000)) == Millis(5000));
    }

    TEST_CASE("readiness is seen within about a sixteenth of the start-up time, and within 100 ms up to 1.6 s") {
        for (int ms : {3, 20, 150, 700, 1500, 1600, 4000, 9000, 15000}) {
            CAPTURE(ms);
            auto seen = simulate(Millis(ms));
            auto lag = seen.at - Millis(ms);
            CHECK(lag.count() <= ms / 16 + 1);
            if (ms <= 1600) CHECK(lag <= Millis(100));
        }
        // The case the doubling schedule got wrong: ready at 1.5 s, seen at 2.28 s.
        CHECK(simulate(Millis(1500)).at <= Millis(1594));
    }

    TEST_CASE("a slow starter is probed about once a second, not thousands of times") {
        CHECK(simulate(Millis(16000)).probes <= 170);
        auto five_minutes = simulate(Millis(300000));
        CHECK(five_minutes.probes <= 170 + 284 + 1);
        CHECK(five_minutes.at - Millis(300000) <= Millis(1000));
    }
}
