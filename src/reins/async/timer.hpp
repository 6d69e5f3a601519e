// Timer and sleep(): waiting for a duration on the loop's monotonic clock.
#pragma once

#include <chrono>
#include <stop_token>

#include "reins/async/completion.hpp"
#include "reins/async/result.hpp"
#include "reins/async/task.hpp"

namespace reins {

/// A reusable one-shot timer (one waiter at a time), for periodic work such
/// as probes. The uv_timer_t lives on the heap and is freed by its close
/// callback, so a Timer may be destroyed at any time, even while awaited:
/// the waiter then completes with Errc::cancelled.
class Timer {
public:
    Timer();
    ~Timer();
    Timer(Timer&& o) noexcept;
    Timer& operator=(Timer&& o) noexcept;

    class WaitAwaiter;
    /// Completes after `d` with success, or with Errc::cancelled on stop.
    WaitAwaiter wait(std::chrono::milliseconds d, std::stop_token stop = {});

    struct State;

private:
    void release() noexcept;
    State* state_;
};

class Timer::WaitAwaiter {
public:
    WaitAwaiter(State* st, std::chrono::milliseconds d, std::stop_token stop)
        : st_(st), delay_(d), stop_(std::move(stop)) {}
    WaitAwaiter(WaitAwaiter&& o) noexcept : st_(o.st_), delay_(o.delay_), stop_(std::move(o.stop_)) {}
    ~WaitAwaiter();

    bool await_ready();
    void await_suspend(std::coroutine_handle<> h);
    Result<void> await_resume();

private:
    friend class Timer;
    struct Cancel {
        WaitAwaiter* self;
        void operator()() const noexcept { self->cancel(); }
    };
    void cancel() noexcept;
    void unlink() noexcept;
    static void on_fire(uv_timer_t* t);

    State* st_;
    std::chrono::milliseconds delay_;
    std::stop_token stop_;
    detail::Completion<Result<void>> done_;
    detail::StopHook<Cancel> hook_;
};

/// Awaits a one-shot timer of its own: `co_await sleep(10ms, stop)`.
class SleepAwaiter {
public:
    SleepAwaiter(std::chrono::milliseconds d, std::stop_token stop)
        : wait_(timer_.wait(d, std::move(stop))) {}
    SleepAwaiter(SleepAwaiter&&) = default;

    bool await_ready() { return wait_.await_ready(); }
    void await_suspend(std::coroutine_handle<> h) { wait_.await_suspend(h); }
    Result<void> await_resume() { return wait_.await_resume(); }

private:
    Timer timer_;  // declared first: destroyed after the wait unlinks from it
    Timer::WaitAwaiter wait_;
};

/// Suspends for `d` (Errc::cancelled if `stop` is requested first).
inline SleepAwaiter sleep(std::chrono::milliseconds d, std::stop_token stop = {}) {
    return SleepAwaiter(d, std::move(stop));
}

/// Suspends until `stop` is requested, on one timer a year long at a time
/// rather than a poll. The timer holds the loop alive: while it waits,
/// Loop::run's deadlock check cannot fire, which is what a wait for a stop
/// that comes from outside the loop's own handles (a signal, whose watch
/// does not hold the loop; another thread) needs.
Task<void> sleep_until_stopped(std::stop_token stop);

}  // namespace reins
