// Doorbell: the one door into a loop from other threads (a uv_async_t).
//
// Any thread may ring(); the loop's thread awaits wait(), which completes
// once the bell rang since the previous wait returned (rings coalesce, as
// uv_async_send does). What was delivered travels separately, in a queue
// the owner locks: the bell only says "look".
//
// The uv_async_t lives in heap state freed by its close callback. ring()
// and close() take a mutex, so a ring racing the close either reaches the
// handle while it is open or does nothing.
#pragma once

#include <coroutine>
#include <mutex>
#include <stop_token>

#include "reins/async/completion.hpp"
#include "reins/async/result.hpp"

namespace reins {

class Doorbell {
public:
    /// Opens the bell on the calling thread's Loop.
    Doorbell();
    /// Closes it (on the loop's thread); a pending wait() is cancelled.
    ~Doorbell();
    Doorbell(const Doorbell&) = delete;
    Doorbell& operator=(const Doorbell&) = delete;

    /// From any thread: wakes the waiter (or the next wait()). A no-op once closed.
    void ring() noexcept;

    class WaitAwaiter;
    /// On the loop's thread: completes once the bell rang; Errc::cancelled on
    /// stop or when the bell is closed. One waiter at a time.
    WaitAwaiter wait(std::stop_token stop = {});

    /// Closes the handle now (idempotent; the loop's thread only).
    void close() noexcept;

    struct State;

private:
    std::mutex mu_;
    State* st_ = nullptr;
};

class Doorbell::WaitAwaiter {
public:
    WaitAwaiter(State* st, std::stop_token stop) : st_(st), stop_(std::move(stop)) {}
    WaitAwaiter(WaitAwaiter&& o) noexcept : st_(o.st_), stop_(std::move(o.stop_)) {}
    ~WaitAwaiter();
    bool await_ready();
    void await_suspend(std::coroutine_handle<> h);
    Result<void> await_resume() { return done_.take(); }

private:
    friend struct Doorbell::State;
    friend class Doorbell;
    struct Cancel {
        WaitAwaiter* self;
        void operator()() const noexcept { self->finish(fail(Errc::cancelled)); }
    };
    void finish(Result<void> r);

    State* st_;
    std::stop_token stop_;
    detail::Completion<Result<void>> done_;
    detail::StopHook<Cancel> hook_;
};

}  // namespace reins
