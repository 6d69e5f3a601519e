#include <chrono>

#include "harness.hpp"

using namespace reins;
using namespace reins::test;
using Clock = std::chrono::steady_clock;

namespace {
Task<int> value_after(std::chrono::milliseconds d, int v) {
    (void)co_await sleep(d);
    co_return v;
}
Task<void> nothing_after(std::chrono::milliseconds d) { (void)co_await sleep(d); }
Task<Result<void>> slow(std::stop_token stop, bool* saw_stop) {
    auto r = co_await sleep(10s, std::move(stop));
    *saw_stop = !r && r.error().is(Errc::cancelled);
    co_return r;
}
}  // namespace

TEST_SUITE("when") {
    TEST_CASE("when_all returns every result, void as monostate") {
        run_test([](std::stop_token) -> Task<void> {
            auto t0 = Clock::now();
            auto [a, b, c] = co_await when_all(value_after(20ms, 1), value_after(10ms, 2), nothing_after(20ms));
            CHECK(a == 1);
            CHECK(b == 2);
            (void)c;
            CHECK(Clock::now() - t0 < 1s);  // concurrent, not 50 ms in a row
        });
    }

    TEST_CASE("when_any returns the first to finish and stops the losers") {
        run_test([](std::stop_token) -> Task<void> {
            bool loser_stopped = false;
            auto slow_arm = [&](std::stop_token s) { return slow(std::move(s), &loser_stopped); };
            auto fast_arm = [](std::stop_token s) { return sleep(5ms, std::move(s)); };
            auto r = co_await when_any(std::stop_token{}, slow_arm, fast_arm);
            CHECK(r.index() == 1);
            CHECK(loser_stopped);  // joined before when_any returned
        });
    }

    TEST_CASE("when_any of a channel receive against a timer") {
        run_test([](std::stop_token) -> Task<void> {
            Channel<int> ch(1);
            CHECK(ch.try_send(9));
            auto recv = [&](std::stop_token s) { return ch.recv(std::move(s)); };
            auto timer = [](std::stop_token s) { return sleep(1s, std::move(s)); };
            auto r = co_await when_any(std::stop_token{}, recv, timer);
            REQUIRE(r.index() == 0);
            CHECK(*std::get<0>(r) == 9);
        });
    }

    TEST_CASE("with_timeout yields timeout and stops the operation") {
        run_test([](std::stop_token) -> Task<void> {
            bool stopped = false;
            auto t0 = Clock::now();
            auto op = [&](std::stop_token s) { return slow(std::move(s), &stopped); };
            auto r = co_await with_timeout(10ms, std::stop_token{}, op);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().is(Errc::timeout));
            CHECK(stopped);
            CHECK(Clock::now() - t0 < 2s);
        });
    }

    TEST_CASE("with_timeout passes a result through when it is in time") {
        run_test([](std::stop_token) -> Task<void> {
            Channel<int> ch(1);
            CHECK(ch.try_send(3));
            auto recv = [&](std::stop_token s) { return ch.recv(std::move(s)); };
            auto r = co_await with_timeout(1s, std::stop_token{}, recv);
            CHECK(*r == 3);
        });
    }
}
