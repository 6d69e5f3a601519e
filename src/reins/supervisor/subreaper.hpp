// Subreaper: adopting and reaping the orphans of reins' services
// (docs/engine.md, Behaviour worth knowing).
//
// With PR_SET_CHILD_SUBREAPER, a descendant whose parent exits (a
// double-forked daemon, vite's esbuild after a crash) is re-parented to
// reins instead of init, so its zombie is reins' to reap. Reaping must not
// steal the exit status of reins' own children: a Process reaps its child
// with waitid(P_PID) once the child's pidfd is readable, and a status taken
// before it is lost (docs/design.md, Who owns a uv handle). So the
// Subreaper watches SIGCHLD with a uv_signal_t, peeks at zombies with
// waitid(WNOWAIT), and reaps only pids the Loop does not own
// (Loop::owns_child). Everything is driven by SIGCHLD: no timer, no polling.
//
// All children must therefore be spawned through reins::Process (or be
// registered with Loop::child_spawned), from this Loop: a child forked
// behind libuv's back, or spawned by a Loop on another thread, is reaped
// here as an orphan and its own waiter loses its status.
//
// waitid(P_ALL) names only one zombie. When that one is owned (its
// Process's pidfd callback has not run yet in this loop turn), the zombies
// behind it are found by listing our children (/proc/self/task/*/children, a
// few syscalls) and reaping each one the Loop does not own with
// waitid(P_PID, WNOHANG), so no zombie waits for another signal.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <utility>

#include "reins/async/process.hpp"
#include "reins/async/result.hpp"

namespace reins::supervisor {

/// Makes the calling process a child subreaper and reaps the orphans it
/// adopts, for as long as it lives. One per Loop; create and destroy it on
/// the Loop's thread, and destroy it before Loop::close().
class Subreaper {
public:
    /// Called for each orphan reaped: its pid and how it ended. Runs inside a
    /// libuv callback: it may log or try_send() to a Channel, never resume.
    using ReapedFn = std::function<void(pid_t pid, const ExitStatus& status)>;

    /// prctl(PR_SET_CHILD_SUBREAPER, 1), starts watching SIGCHLD and reaps
    /// the orphans already waiting. As PID 1 (a container's init) every
    /// orphan of the system comes to us anyway: is_init() says so.
    static Result<Subreaper> enable();

    Subreaper(Subreaper&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
    Subreaper& operator=(Subreaper&& o) noexcept;
    Subreaper(const Subreaper&) = delete;
    Subreaper& operator=(const Subreaper&) = delete;
    /// Reaps once more, stops watching SIGCHLD and restores the subreaper
    /// flag it found (so later orphans go to init rather than to a process
    /// that no longer reaps them). Orphans adopted before stay ours.
    ~Subreaper();

    /// Orphans reaped so far.
    uint64_t reaped() const noexcept;
    /// True when reins runs as PID 1.
    bool is_init() const noexcept;
    /// Sets (or clears, with nullptr) the callback for each reaped orphan;
    /// not from inside that callback.
    void on_reaped(ReapedFn fn);
    /// Reaps every orphan zombie now; returns how many. SIGCHLD does this by
    /// itself; useful after a burst if a signal might have been lost.
    int reap_now();

    struct State;

private:
    explicit Subreaper(State* st) noexcept : st_(st) {}
    void release() noexcept;
    State* st_ = nullptr;
};

}  // namespace reins::supervisor
