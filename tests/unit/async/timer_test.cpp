#include <chrono>
#include <vector>

#include "harness.hpp"

using namespace reins;
using namespace reins::test;
using Clock = std::chrono::steady_clock;

namespace {
Task<void> sleep_and_record(std::chrono::milliseconds d, int id, std::vector<int>* order) {
    auto r = co_await sleep(d);
    CHECK(r.has_value());
    order->push_back(id);
}

Task<void> sleep_until_stopped_then_mark(std::stop_token stop, bool* ended) {
    co_await sleep_until_stopped(std::move(stop));
    *ended = true;
}
}  // namespace

TEST_SUITE("timer") {
    TEST_CASE("sleep_until_stopped ends when, and only when, stop is requested") {
        run_test([](std::stop_token) -> Task<void> {
            std::stop_source src;
            bool ended = false;
            TaskScope scope = TaskScope::shielded();
            scope.spawn(sleep_until_stopped_then_mark(src.get_token(), &ended));
            auto slept = co_await sleep(30ms);
            CHECK(slept.has_value());
            CHECK_FALSE(ended);
            src.request_stop();
            co_await scope.join();
            CHECK(ended);
        });
    }

    TEST_CASE("sleep waits at least its duration") {
        run_test([](std::stop_token) -> Task<void> {
            auto t0 = Clock::now();
            auto r = co_await sleep(30ms);
            CHECK(r.has_value());
            CHECK(Clock::now() - t0 >= 30ms);
        });
    }

    TEST_CASE("timers fire in deadline order, not start order") {
        run_test([](std::stop_token) -> Task<void> {
            std::vector<int> order;
            TaskScope scope = TaskScope::shielded();
            scope.spawn(sleep_and_record(60ms, 3, &order));
            scope.spawn(sleep_and_record(20ms, 1, &order));
            scope.spawn(sleep_and_record(40ms, 2, &order));
            co_await scope.join();
            CHECK(order == std::vector<int>{1, 2, 3});
        });
    }

    TEST_CASE("a stopped sleep completes with cancelled, promptly") {
        run_test([](std::stop_token) -> Task<void> {
            std::stop_source src;
            TaskScope scope = TaskScope::shielded();
            auto t0 = Clock::now();
            Result<void> got;
            auto sleeper = [](std::stop_token s, Result<void>* out) -> Task<void> {
                *out = co_await sleep(10s, std::move(s));
            };
            scope.spawn(sleeper(src.get_token(), &got));
            co_await sleep(10ms);
            src.request_stop();
            co_await scope.join();
            REQUIRE_FALSE(got.has_value());
            CHECK(got.error().is(Errc::cancelled));
            CHECK(Clock::now() - t0 < 2s);
        });
    }

    TEST_CASE("a sleep whose token is already stopped does not wait") {
        run_test([](std::stop_token) -> Task<void> {
            std::stop_source src;
            src.request_stop();
            auto r = co_await sleep(10s, src.get_token());
            CHECK(r.error().is(Errc::cancelled));
        });
    }

    TEST_CASE("a Timer is reusable") {
        run_test([](std::stop_token) -> Task<void> {
            Timer t;
            for (int i = 0; i < 5; ++i) {
                auto r = co_await t.wait(1ms);
                CHECK(r.has_value());
            }
        });
    }

    TEST_CASE("destroying a Timer while it is awaited cancels the waiter") {
        run_test([](std::stop_token) -> Task<void> {
            auto timer = std::make_unique<Timer>();
            Result<void> got;
            auto waiter = [](Timer* t, Result<void>* out) -> Task<void> { *out = co_await t->wait(10s); };
            TaskScope scope = TaskScope::shielded();
            scope.spawn(waiter(timer.get(), &got));
            co_await sleep(5ms);
            timer.reset();  // owner dropped
            co_await scope.join();
            REQUIRE_FALSE(got.has_value());
            CHECK(got.error().is(Errc::cancelled));
        });
    }

    TEST_CASE("destroying a frame suspended in sleep releases the timer") {
        // The frame goes away unresumed; the handle must still be closed.
        Loop loop;
        {
            auto sleeper = []() -> Task<void> { (void)co_await sleep(10s); };
            auto t = sleeper();
            loop.schedule(t.handle());
            loop.run([]() -> Task<void> { co_return; }());
            CHECK_FALSE(t.done());
        }
        auto closed = loop.close();
        CHECK_MESSAGE(closed.has_value(), (closed ? std::string() : closed.error().message()));
    }
}
