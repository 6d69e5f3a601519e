#include <stdexcept>
#include <string>

#include "harness.hpp"

using namespace reins;
using namespace reins::test;

namespace {

Task<int> answer() { co_return 42; }
Task<int> add(int a, int b) { co_return a + b; }
Task<void> thrower() {
    throw std::runtime_error("boom");
    co_return;
}
Task<std::string> nested(int depth) {
    if (depth == 0) co_return std::string("leaf");
    auto s = co_await nested(depth - 1);
    co_return s + "+";
}

// Counts constructions and destructions: catches double destruction.
struct Counted {
    static inline int alive = 0;
    static inline int destroyed = 0;
    Counted() { ++alive; }
    Counted(const Counted&) { ++alive; }
    Counted(Counted&& o) noexcept { ++alive; (void)o; }
    ~Counted() { --alive; ++destroyed; }
};

Task<Counted> make_counted() { co_return Counted{}; }

Task<int> one() { co_return 1; }

}  // namespace

TEST_SUITE("task") {
    TEST_CASE("a root task's value comes out of Loop::run") {
        Loop loop;
        CHECK(loop.run(answer()) == 42);
        CHECK(loop.run(add(2, 3)) == 5);
        REQUIRE(loop.close());
    }

    TEST_CASE("tasks are lazy: nothing runs before they are awaited") {
        Loop loop;
        int ran = 0;
        auto make = [](int* r) -> Task<void> {
            ++*r;
            co_return;
        };
        {
            auto t = make(&ran);
            CHECK(ran == 0);
            CHECK_FALSE(t.done());
        }  // dropped unstarted
        CHECK(ran == 0);
        loop.run(make(&ran));
        CHECK(ran == 1);
        REQUIRE(loop.close());
    }

    TEST_CASE("an exception travels to the awaiter") {
        run_test([](std::stop_token) -> Task<void> {
            bool caught = false;
            try {
                co_await thrower();
            } catch (const std::runtime_error& e) {
                caught = std::string(e.what()) == "boom";
            }
            CHECK(caught);
        });
        Loop loop;
        CHECK_THROWS_WITH_AS(loop.run(thrower()), "boom", std::runtime_error);
        REQUIRE(loop.close());
    }

    TEST_CASE("nested awaits return in order") {
        Loop loop;
        CHECK(loop.run(nested(3)) == "leaf+++");
        REQUIRE(loop.close());
    }

    TEST_CASE("results are destroyed exactly once") {
        Counted::alive = 0;
        Counted::destroyed = 0;
        {
            Loop loop;
            {
                Counted c = loop.run(make_counted());
                CHECK(Counted::alive == 1);
            }
            REQUIRE(loop.close());
        }
        CHECK(Counted::alive == 0);
    }

    TEST_CASE("100000 synchronously completing awaits do not grow the stack") {
        // At -O0 (the normal test build) this overflows unless every
        // completion is a symmetric transfer.
        Loop loop;
        auto sum = [](int n) -> Task<long> {
            long total = 0;
            for (int i = 0; i < n; ++i) {
                int v = co_await one();
                total += v;
            }
            co_return total;
        };
        CHECK(loop.run(sum(100000)) == 100000);
        REQUIRE(loop.close());
    }

    TEST_CASE("a root that can never be woken is reported as a deadlock") {
        Loop loop;
        auto stuck = []() -> Task<void> {
            Channel<int> ch(1);
            auto v = co_await ch.recv();  // nobody will ever send
            (void)v;
        };
        CHECK_THROWS_AS(loop.run(stuck()), Deadlock);
        REQUIRE(loop.close());
    }
}
