#include <doctest/doctest.h>

#include <set>

#include "reins/supervisor/restart_policy.hpp"

using namespace reins::supervisor;
using namespace std::chrono_literals;

namespace {
Ending exit_code(int c) { return Ending{EndKind::exited, c, 0}; }
Ending killed(int s) { return Ending{EndKind::exited, 0, s}; }
}  // namespace

TEST_SUITE("restart_policy") {
    TEST_CASE("which endings restart under each mode") {
        auto t = Clock::now();
        RestartSpec no;
        no.mode = RestartMode::no;
        RestartPolicy p_no(no, 1);
        CHECK(p_no.decide(exit_code(1), t).action == RestartDecision::Action::stay_stopped);

        RestartPolicy p_fail(RestartSpec{}, 1);  // on-failure
        CHECK(p_fail.decide(exit_code(0), t).action == RestartDecision::Action::stay_stopped);
        CHECK(p_fail.decide(exit_code(3), t).action == RestartDecision::Action::restart);
        CHECK(p_fail.decide(killed(9), t).action == RestartDecision::Action::restart);
        CHECK(p_fail.decide(Ending{EndKind::start_failed}, t).action == RestartDecision::Action::restart);
        CHECK(p_fail.decide(Ending{EndKind::unhealthy}, t).action == RestartDecision::Action::restart);

        RestartSpec always;
        always.mode = RestartMode::always;
        RestartPolicy p_always(always, 1);
        CHECK(p_always.decide(exit_code(0), t).action == RestartDecision::Action::restart);
    }

    TEST_CASE("an exit announced with STOPPING=1 never restarts and is no failure, whatever its code") {
        auto t = Clock::now();
        for (RestartMode mode : {RestartMode::no, RestartMode::on_failure, RestartMode::always}) {
            RestartSpec s;
            s.mode = mode;
            s.max_restarts = 0;  // a failure would open the circuit at once
            RestartPolicy p(s, 1);
            for (Ending e : {Ending{EndKind::announced_stop, 3, 0}, Ending{EndKind::announced_stop, 0, 9},
                             Ending{EndKind::announced_stop, 0, 0}}) {
                CHECK_FALSE(p.is_failure(e));
                auto d = p.decide(e, t);
                CHECK(d.action == RestartDecision::Action::stay_stopped);
            }
            CHECK(p.restarts_in_window(t) == 0);
        }
    }

    TEST_CASE("success_codes decide what a clean exit is") {
        RestartSpec s;
        s.success_codes = {0, 42};
        RestartPolicy p(s, 1);
        CHECK_FALSE(p.is_failure(exit_code(42)));
        CHECK(p.is_failure(exit_code(1)));
        CHECK(p.is_failure(killed(15)));
    }

    TEST_CASE("delays grow by the multiplier up to the cap, within the jitter bounds") {
        RestartSpec s;
        s.initial = 100ms;
        s.multiplier = 2.0;
        s.max_delay = 1000ms;
        s.jitter = 0.1;
        s.max_restarts = 100;
        RestartPolicy p(s, 42);
        auto t = Clock::now();
        const long expected[] = {100, 200, 400, 800, 1000, 1000};
        for (int n = 1; n <= 6; ++n) {
            auto d = p.decide(exit_code(1), t);
            REQUIRE(d.action == RestartDecision::Action::restart);
            CHECK(d.attempt == n);
            CHECK(p.base_delay(n).count() == expected[n - 1]);
            CHECK(d.delay.count() >= expected[n - 1] * 0.9 - 1);
            CHECK(d.delay.count() <= expected[n - 1] * 1.1 + 1);
        }
    }

    TEST_CASE("jitter spreads the delays of services that crash together") {
        RestartSpec s;
        s.jitter = 0.5;
        std::set<long> seen;
        for (uint64_t seed = 0; seed < 20; ++seed) {
            RestartPolicy p(s, seed);
            seen.insert(p.decide(exit_code(1), Clock::now()).delay.count());
        }
        CHECK(seen.size() > 5);
    }

    TEST_CASE("more than max restarts within the window opens the circuit") {
        RestartSpec s;
        s.max_restarts = 3;
        s.window = 10s;
        RestartPolicy p(s, 1);
        auto t = Clock::now();
        for (int i = 0; i < 3; ++i) CHECK(p.decide(exit_code(1), t + i * 1s).action == RestartDecision::Action::restart);
        CHECK(p.decide(exit_code(1), t + 3s).action == RestartDecision::Action::give_up);
        p.reset();  // a manual restart closes it
        CHECK(p.decide(exit_code(1), t + 4s).action == RestartDecision::Action::restart);
    }

    TEST_CASE("restarts older than the window no longer count: the delay starts over") {
        RestartSpec s;
        s.max_restarts = 2;
        s.window = 10s;
        s.jitter = 0;
        RestartPolicy p(s, 1);
        auto t = Clock::now();
        CHECK(p.decide(exit_code(1), t).delay == 100ms);
        CHECK(p.decide(exit_code(1), t + 1s).delay == 200ms);
        auto later = p.decide(exit_code(1), t + 12s);  // both earlier ones left the window
        CHECK(later.action == RestartDecision::Action::restart);
        CHECK(later.delay == 100ms);
        CHECK(later.attempt == 1);
    }
}
