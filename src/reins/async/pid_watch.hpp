// PidWatch: the exit of a process reins did not spawn itself — a service's
// main pid handed over with sd_notify MAINPID= (a forking daemon) — seen
// through a pidfd (Linux >= 5.3) watched by a uv_poll_t. No polling: the
// pidfd becomes readable when the process exits.
//
// Exit status: only a process's parent can read it. While a watch lives,
// its pid is claimed in the Loop (Loop::child_spawned), so a Subreaper that
// adopted the process leaves its zombie alone; the watch then reaps it
// itself and reports its status. A process whose parent is someone else
// (still alive) exits with no status for us: wait() gives nullopt.
//
// The poll handle and the pidfd live in heap state freed by the handle's
// close callback (the fd is closed after libuv stopped watching it).
#pragma once

#include <optional>
#include <stop_token>
#include <utility>

#include "reins/async/completion.hpp"
#include "reins/async/process.hpp"
#include "reins/async/result.hpp"

namespace reins {

/// Watches one process for its exit. Move-only; destroying it completes a
/// pending wait() with Errc::cancelled and releases the claim (reaping the
/// process first if it is an exited child of ours). It keeps the loop alive
/// only while awaited.
class PidWatch {
public:
    /// Opens a pidfd for `pid`. Fails with UV_ESRCH when no such process
    /// exists, UV_EBUSY when it is a child a Process of this Loop owns (that
    /// Process reports its exit), UV_ENOSYS (or the error the kernel gave)
    /// where pidfds are unavailable, UV_EINVAL for a pid <= 1.
    static Result<PidWatch> open(int pid);

    PidWatch() noexcept = default;
    ~PidWatch() { close(); }
    PidWatch(PidWatch&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
    PidWatch& operator=(PidWatch&& o) noexcept;
    PidWatch(const PidWatch&) = delete;
    PidWatch& operator=(const PidWatch&) = delete;

    explicit operator bool() const noexcept { return st_ != nullptr; }
    int pid() const noexcept;
    /// True once the process has exited.
    bool exited() const noexcept;
    /// Its exit status, once it exited, if reins could read it (see above).
    std::optional<ExitStatus> exit_status() const noexcept;

    class WaitAwaiter;
    /// Completes when the process has exited (at once if it already has),
    /// with its status when reins could read it (see above), else nullopt.
    /// Errc::cancelled on stop or when the watch is destroyed meanwhile.
    WaitAwaiter wait(std::stop_token stop = {});

    /// Stops watching now (idempotent); see the destructor.
    void close() noexcept;

    struct State;

private:
    explicit PidWatch(State* st) noexcept : st_(st) {}
    State* st_ = nullptr;
};

class PidWatch::WaitAwaiter {
public:
    WaitAwaiter(State* st, std::stop_token stop) : st_(st), stop_(std::move(stop)) {}
    WaitAwaiter(WaitAwaiter&& o) noexcept : st_(o.st_), stop_(std::move(o.stop_)) {}
    ~WaitAwaiter();
    bool await_ready();
    void await_suspend(std::coroutine_handle<> h);
    Result<std::optional<ExitStatus>> await_resume();

private:
    friend struct PidWatch::State;
    struct Cancel {
        WaitAwaiter* self;
        void operator()() const noexcept { self->finish(fail(Errc::cancelled)); }
    };
    void finish(Result<std::optional<ExitStatus>> r);

    State* st_;
    std::stop_token stop_;
    detail::Completion<Result<std::optional<ExitStatus>>> done_;
    detail::StopHook<Cancel> hook_;
};

}  // namespace reins
