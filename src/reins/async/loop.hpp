// Loop: owns a uv_loop_t and the ready queue of coroutines to resume.
//
// libuv callbacks never resume a coroutine inline: they store their result
// and schedule() the waiter, and Loop::run resumes scheduled coroutines in
// FIFO order between turns of the libuv loop. One Loop per thread.
#pragma once

#include <coroutine>
#include <cstddef>
#include <deque>
#include <stdexcept>
#include <string>
#include <unordered_set>

#include <uv.h>

#include "reins/async/result.hpp"
#include "reins/async/task.hpp"

namespace reins {

namespace detail {
class SignalRegistry;
}

/// Thrown by Loop::run when the root task is suspended and nothing (no
/// handle, request or ready task) can ever wake it: a bug in the caller.
class Deadlock : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

/// The event loop of one thread: libuv plus a ready queue of coroutines.
class Loop {
public:
    Loop();
    /// Calls close() if the owner did not; reports leaked handles on stderr.
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    /// The Loop of the calling thread; there must be one.
    static Loop& current() noexcept;

    uv_loop_t* uv() noexcept { return &loop_; }

    /// Drives `root` to completion and returns its value (or rethrows its
    /// exception). Throws Deadlock when nothing can wake the root any more.
    template <class T>
    T run(Task<T> root) {
        try {
            drive(root.handle());
        } catch (const Deadlock&) {
            // Unwind the suspended frames now, while scopes may skip their
            // joined-before-destruction check.
            tearing_down_ = true;
            root = Task<T>();
            tearing_down_ = false;
            throw;
        }
        return root.take_result();
    }

    /// Queues `h` to be resumed on the next drain of the ready queue.
    void schedule(std::coroutine_handle<> h);
    /// Removes `h` from the ready queue (its frame is going away unresumed).
    void unschedule(std::coroutine_handle<> h) noexcept;

    /// Closes the runtime's own handles (signal watchers), waits for orphaned
    /// processes to be reaped, flushes close callbacks and closes the uv loop.
    /// Fails, naming every handle still alive, if the loop cannot be closed.
    Result<void> close();
    bool closed() const noexcept { return closed_; }

    /// True while a failed run() unwinds suspended frames (scopes then skip
    /// their "joined before destruction" check).
    bool tearing_down() const noexcept { return tearing_down_; }

    /// Orphanage accounting: processes whose owner went away while they
    /// still ran are killed and kept here until they are reaped.
    void orphan_adopted() noexcept { ++orphans_; }
    void orphan_reaped() noexcept { --orphans_; }
    std::size_t orphans() const noexcept { return orphans_; }

    /// Children reins reaps itself: Process records each pid right after the
    /// spawn and forgets it once it reaped the child (through its pidfd). A
    /// subreaper must never reap these (that would steal the exit status).
    /// PidWatch claims the pid it watches the same way, so that it reaps the
    /// process (and reads its status) if the subreaper adopted it. Claims are
    /// counted: each child_spawned() is undone by one child_reaped().
    void child_spawned(int pid);
    void child_reaped(int pid) noexcept;
    bool owns_child(int pid) const noexcept { return children_.count(pid) != 0; }

    /// Process-wide signal watchers, created on first use, kept for the
    /// Loop's lifetime (see SignalSet).
    detail::SignalRegistry& signals();

    /// A description of every live uv handle ("timer (active), pipe (closing)").
    std::string describe_handles();

private:
    void drive(std::coroutine_handle<> root);
    void run_ready();

    uv_loop_t loop_{};
    // Started when a libuv callback schedules a coroutine, so that the rest
    // of that uv_run turn does not block in poll (timers run before poll).
    uv_idle_t* wake_ = nullptr;
    bool in_uv_run_ = false;
    std::deque<std::coroutine_handle<>> ready_;
    detail::SignalRegistry* signals_ = nullptr;
    std::size_t orphans_ = 0;
    std::unordered_multiset<int> children_;  // see child_spawned()
    bool closed_ = false;
    bool tearing_down_ = false;
};

}  // namespace reins
