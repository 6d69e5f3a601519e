#include <csignal>
#include <unistd.h>

#include "harness.hpp"
#include "reins/async/signal_set.hpp"

using namespace reins;
using namespace reins::test;

TEST_SUITE("signal") {
    TEST_CASE("a raised SIGHUP arrives through the set") {
        run_test([](std::stop_token) -> Task<void> {
            auto set = SignalSet::create({SIGHUP, SIGUSR1});
            REQUIRE(set.has_value());
            ::kill(::getpid(), SIGUSR1);
            auto s = co_await set->next();
            REQUIRE(s.has_value());
            CHECK(*s == SIGUSR1);
        });
    }

    TEST_CASE("signals that arrive while nobody waits stay pending, coalesced") {
        run_test([](std::stop_token) -> Task<void> {
            auto set = SignalSet::create({SIGUSR1, SIGUSR2});
            REQUIRE(set.has_value());
            ::kill(::getpid(), SIGUSR2);
            co_await sleep(5ms);
            ::kill(::getpid(), SIGUSR1);
            co_await sleep(5ms);
            ::kill(::getpid(), SIGUSR1);
            co_await sleep(5ms);
            auto a = co_await set->next();
            auto b = co_await set->next();
            CHECK(*a == SIGUSR2);
            CHECK(*b == SIGUSR1);
            auto next = [&](std::stop_token s) { return set->next(std::move(s)); };
            auto c = co_await with_timeout(20ms, std::stop_token{}, next);
            CHECK(c.error().is(Errc::timeout));  // the second SIGUSR1 was coalesced
        });
    }

    TEST_CASE("a stopped wait completes with cancelled") {
        run_test([](std::stop_token) -> Task<void> {
            auto set = SignalSet::create({SIGHUP});
            REQUIRE(set.has_value());
            std::stop_source src;
            src.request_stop();
            auto r = co_await set->next(src.get_token());
            CHECK(r.error().is(Errc::cancelled));
        });
    }

    TEST_CASE("signals that cannot be watched are refused with a message") {
        Loop loop;
        auto set = SignalSet::create({SIGKILL});
        REQUIRE_FALSE(set.has_value());
        CHECK(set.error().message().find("signal 9") != std::string::npos);
        REQUIRE(loop.close());
    }

    TEST_CASE("the watcher survives its sets: a late SIGHUP does not kill the process") {
        Loop loop;
        loop.run([]() -> Task<void> {
            auto set = SignalSet::create({SIGHUP});
            REQUIRE(set.has_value());
            co_return;
        }());
        ::kill(::getpid(), SIGHUP);  // default action would terminate the test binary
        loop.run([]() -> Task<void> { (void)co_await sleep(5ms); }());
        REQUIRE(loop.close());
    }
}
