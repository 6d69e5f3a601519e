// run_test: a fresh Loop, a deadline, and a loop that must close cleanly.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <stop_token>

#include "reins/async/channel.hpp"
#include "reins/async/loop.hpp"
#include "reins/async/when.hpp"

namespace reins::test {

using namespace std::chrono_literals;

// `body(stop)` returns a Task<void>; it is stopped if `deadline` passes first.
template <class Body>
Task<bool> guarded(Body body, std::chrono::milliseconds deadline) {
    // Lambdas as named locals, never inside a co_await's full-expression (g++ 12).
    auto timer = [deadline](std::stop_token s) { return sleep(deadline, std::move(s)); };
    auto r = co_await when_any(std::stop_token{}, std::move(body), timer);
    co_return r.index() == 0;
}

/// Runs a test body on a fresh Loop: fails if it misses `deadline`, and if
/// any uv handle is left alive afterwards (uv_loop_close must return 0).
template <class Body>
void run_test(Body body, std::chrono::milliseconds deadline = 10s) {
    Loop loop;
    bool in_time = loop.run(guarded(std::move(body), deadline));
    CHECK_MESSAGE(in_time, "test body missed its deadline");
    auto closed = loop.close();
    CHECK_MESSAGE(closed.has_value(), (closed ? std::string() : closed.error().message()));
}

}  // namespace reins::test
