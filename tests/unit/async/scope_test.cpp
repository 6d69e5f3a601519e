#include <stdexcept>
#include <vector>

#include "harness.hpp"

using namespace reins;
using namespace reins::test;

namespace {
Task<void> wait_for_stop(std::stop_token stop, int* unwound) {
    auto r = co_await sleep(10s, std::move(stop));
    CHECK(r.error().is(Errc::cancelled));
    ++*unwound;
}
Task<void> fail_after(std::chrono::milliseconds d) {
    (void)co_await sleep(d);
    throw std::runtime_error("child failed");
}
Task<void> count_to(int n, int* counter) {
    for (int i = 0; i < n; ++i) {
        ++*counter;
        co_await sleep(0ms);
    }
}
}  // namespace

TEST_SUITE("scope") {
    TEST_CASE("join waits for every child") {
        run_test([](std::stop_token) -> Task<void> {
            int counter = 0;
            TaskScope scope = TaskScope::shielded();
            for (int i = 0; i < 10; ++i) scope.spawn(count_to(5, &counter));
            CHECK(scope.size() == 10);
            co_await scope.join();
            CHECK(counter == 50);
            CHECK(scope.size() == 0);
        });
    }

    TEST_CASE("joining an empty scope completes at once") {
        run_test([](std::stop_token) -> Task<void> {
            TaskScope scope = TaskScope::shielded();
            co_await scope.join();
            CHECK(scope.size() == 0);
        });
    }

    TEST_CASE("request_stop reaches every child through its token") {
        run_test([](std::stop_token) -> Task<void> {
            int unwound = 0;
            TaskScope scope = TaskScope::shielded();
            for (int i = 0; i < 3; ++i) scope.spawn(wait_for_stop(scope.token(), &unwound));
            co_await sleep(2ms);
            scope.request_stop();
            co_await scope.join();
            CHECK(unwound == 3);
        });
    }

    TEST_CASE("a parent's stop propagates into a linked scope, not a shielded one") {
        run_test([](std::stop_token) -> Task<void> {
            std::stop_source parent;
            TaskScope linked(parent.get_token());
            TaskScope shielded = TaskScope::shielded();
            parent.request_stop();
            CHECK(linked.stop_requested());
            CHECK_FALSE(shielded.stop_requested());
            co_await linked.join();
            co_await shielded.join();
        });
    }

    TEST_CASE("a failing child stops its siblings and join rethrows its error") {
        run_test([](std::stop_token) -> Task<void> {
            int unwound = 0;
            TaskScope scope = TaskScope::shielded();
            scope.spawn(wait_for_stop(scope.token(), &unwound));
            scope.spawn(fail_after(5ms));
            scope.spawn(wait_for_stop(scope.token(), &unwound));
            bool caught = false;
            try {
                co_await scope.join();
            } catch (const std::runtime_error& e) {
                caught = std::string(e.what()) == "child failed";
            }
            CHECK(caught);
            CHECK(unwound == 2);  // siblings were stopped and joined, not abandoned
        });
    }
}
