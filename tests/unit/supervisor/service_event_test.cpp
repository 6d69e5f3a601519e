// ServiceEvent's fields, as a real Service publishes them: the port, which
// restart a `restarting` (and the `starting` after its backoff) is, the
// backoff, the failures counted toward the circuit breaker, and the text of
// STATUS= or of why it failed. And the stop after a liveness failure, which
// skips stop.pre / stop.http unless stop.hooks_when_unhealthy asks for them.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include "engine_harness.hpp"

using namespace reins;
using namespace reins::test;
using namespace std::chrono_literals;

namespace {

Task<void> wait_for_state(Supervisor& sv, std::string name, ServiceState want) {
    for (int i = 0; i < 500 && sv.find(name)->status().state != want; ++i) co_await sleep(20ms);
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

// A service that is ready at once (tcp) and whose health probe fails (HTTP
// 500) twice in a row, quickly; `stop.pre_exec` touches `marker`.
ServiceSpec sick_with_checkpoint(const std::string& marker) {
    auto s = spec("sick", fixture_cmd({"--status", "500"}));
    s.port = PortSpec::any();
    s.ready.kind = ProbeKind::tcp;
    s.health.kind = ProbeKind::http;
    s.health.target = "/health";
    s.health.interval = Millis(50);
    s.health.timeout = Millis(500);
    s.health.failures = 2;
    s.stop.pre_exec = "touch '" + marker + "'";
    return s;
}

}  // namespace

TEST_SUITE("service_event") {

TEST_CASE("a crash loop's events carry the port, the attempt, the backoff and the failures") {
    Supervisor sup;
    EventLog log(sup);
    auto s = spec("crash", fixture_cmd({"--no-listen", "--crash-after", "10ms", "--exit-code", "3"}));
    s.port = PortSpec::any();
    s.restart.max_restarts = 2;
    s.restart.initial = Millis(30);
    s.restart.multiplier = 2.0;
    s.restart.max_delay = Millis(1000);
    REQUIRE(sup.add(s));
    run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
        auto r = co_await sv.start();
        (void)r;  // ready at spawn, then it crashes
        co_await wait_for_state(sv, "crash", ServiceState::failed);
    });
    REQUIRE(sup.find("crash")->status().state == ServiceState::failed);
    auto restarting = log.of("crash", ServiceState::restarting);
    auto starting = log.of("crash", ServiceState::starting);
    auto failed = log.of("crash", ServiceState::failed);
    REQUIRE(restarting.size() == 3);  // two restarts, then the circuit opens
    REQUIRE(starting.size() == 3);
    REQUIRE(failed.size() == 1);

    // The first start is no restart.
    CHECK(starting[0].attempt == 0);
    CHECK(starting[0].port > 0);
    const int port = starting[0].port;
    for (int n = 1; n <= 2; ++n) {
        const auto& e = restarting[n - 1];
        CAPTURE(n);
        CHECK(e.attempt == n);
        CHECK(e.delay == Millis(30 * (1 << (n - 1))));  // no jitter (spec())
        CHECK(e.failures == n);
        CHECK(e.status_text == "exit 3");
        CHECK(e.port == port);  // a restarting service keeps its port
        CHECK(e.pid == 0);
        // The start after the backoff says which restart it is.
        CHECK(starting[n].attempt == n);
        CHECK(starting[n].port == port);
    }
    // The third crash opens the circuit: no restart attempt, three failures.
    CHECK(restarting[2].attempt == 0);
    CHECK(restarting[2].delay == Millis(0));
    CHECK(restarting[2].failures == 3);
    CHECK(failed[0].failures == 3);
    CHECK(failed[0].status_text == "exit 3");
    CHECK(failed[0].port == 0);  // a failed service shows no port
    CHECK(failed[0].attempt == 0);
    // Events that are about no failure carry no text.
    for (const auto& e : log.of("crash", ServiceState::running)) CHECK(e.status_text.empty());
}

TEST_CASE("a manual restart starts afresh: attempt 0 and no failures counted") {
    Supervisor sup;
    EventLog log(sup);
    auto s = spec("crash", fixture_cmd({"--no-listen", "--crash-after", "10ms", "--exit-code", "3"}));
    s.restart.max_restarts = 1;
    REQUIRE(sup.add(s));
    run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
        auto r = co_await sv.start();
        (void)r;
        co_await wait_for_state(sv, "crash", ServiceState::failed);
        auto again = co_await sv.restart("crash");
        (void)again;
    });
    auto starting = log.of("crash", ServiceState::starting);
    REQUIRE(starting.size() >= 3);
    const auto& manual = starting[2];  // from failed
    CHECK(manual.from == ServiceState::failed);
    CHECK(manual.attempt == 0);
    CHECK(manual.failures == 0);
}

TEST_CASE("an unhealthy event carries the failed probe, a STATUS= event its text") {
    SUBCASE("unhealthy") {
        TempDir tmp("engine");
        Supervisor sup;
        EventLog log(sup);
        REQUIRE(sup.add(sick_with_checkpoint(tmp / "checkpoint")));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            std::vector<std::string> which{"sick"};
            auto r = co_await sv.start(which);
            REQUIRE_MESSAGE(r.has_value(), why(r));
            for (int i = 0; i < 300 && sv.find("sick")->status().restarts == 0; ++i) co_await sleep(10ms);
        });
        const ServiceEvent* unhealthy = nullptr;
        for (const auto& e : log.events)
            if (e.health == Health::unhealthy && e.from == e.to && !unhealthy) unhealthy = &e;
        REQUIRE(unhealthy != nullptr);
        CHECK(unhealthy->status_text.find("500") != std::string::npos);
        CHECK(unhealthy->status_text.find("(2/2)") != std::string::npos);
        CHECK(unhealthy->port > 0);
        auto restarting = log.of("sick", ServiceState::restarting);
        REQUIRE(!restarting.empty());
        CHECK(restarting[0].attempt == 1);
        CHECK(restarting[0].status_text.rfind("unhealthy: ", 0) == 0);
    }
    SUBCASE("STATUS=") {
        Supervisor sup;
        EventLog log(sup);
        auto s = spec("notifier", fixture_cmd({"--notify"}));
        s.port = PortSpec::any();
        s.ready.kind = ProbeKind::notify;
        REQUIRE(sup.add(s));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            std::vector<std::string> which{"notifier"};
            auto r = co_await sv.start(which);
            REQUIRE_MESSAGE(r.has_value(), why(r));
            for (int i = 0; i < 100 && sv.find("notifier")->status().status_text.empty(); ++i) co_await sleep(10ms);
        });
        bool seen = false;
        for (const auto& e : log.events)
            if (e.service == "notifier" && e.status_text == "fixture ready") {
                seen = true;
                CHECK(e.from == e.to);
                CHECK(e.reason == "STATUS=fixture ready");
                CHECK(e.port > 0);
            }
        CHECK_MESSAGE(seen, "an event carries the fixture's STATUS= text");
    }
}

}  // TEST_SUITE

TEST_SUITE("service_stop") {

// Starts "sick", waits for its first restart (a liveness failure), and says
// whether the marker of stop.pre_exec existed then.
Task<void> first_liveness_restart(Supervisor* sv, std::string marker, bool* touched, StopStep* step) {
    std::vector<std::string> which{"sick"};
    auto r = co_await sv->start(which);
    REQUIRE_MESSAGE(r.has_value(), why(r));
    for (int i = 0; i < 300 && sv->find("sick")->status().restarts == 0; ++i) co_await sleep(10ms);
    REQUIRE(sv->find("sick")->status().restarts >= 1);
    *touched = exists(marker);
    *step = sv->find("sick")->status().stopped_by;
}

TEST_CASE("a liveness failure goes straight to the signal, unless hooks_when_unhealthy") {
    for (bool hooks : {false, true}) {
        CAPTURE(hooks);
        TempDir tmp("engine");
        Supervisor sup;
        const std::string marker = tmp / "checkpoint";
        auto s = sick_with_checkpoint(marker);
        s.stop.hooks_when_unhealthy = hooks;
        REQUIRE(sup.add(s));
        bool touched = false;
        StopStep step = StopStep::none;
        run_engine(sup, [&](Supervisor& sv, std::stop_token) {
            return first_liveness_restart(&sv, marker, &touched, &step);
        });
        // stop.pre_exec ran for the restart only when asked (the marker works:
        // the `true` round sees it).
        CHECK(touched == hooks);
        CHECK(step == StopStep::signal);
    }
}

}  // TEST_SUITE
