// TaskScope: structured concurrency (a nursery, like cppcoro's async_scope).
//
// Children are spawned into the scope and must be joined before it ends:
// no task outlives the scope that started it. The scope owns a stop_source
// linked to the parent's token, so stopping a parent stops every child.
#pragma once

#include <cstddef>
#include <exception>
#include <optional>
#include <stop_token>

#include "reins/async/completion.hpp"
#include "reins/async/task.hpp"

namespace reins {

namespace detail {
struct ScopeChild;
}

/// Spawns child tasks that are guaranteed joined (or, when a failed run
/// unwinds, destroyed) before the scope ends.
class TaskScope {
public:
    /// A scope whose stop follows `parent`.
    explicit TaskScope(std::stop_token parent);
    /// A scope no caller's stop reaches, only its own request_stop() (for
    /// cleanup such as SIGTERM -> grace -> SIGKILL that must run after a stop).
    static TaskScope shielded() { return TaskScope(std::stop_token{}); }
    /// Asserts that every child was joined (a bug otherwise).
    ~TaskScope();
    TaskScope(const TaskScope&) = delete;
    TaskScope& operator=(const TaskScope&) = delete;

    /// Starts `task` on the next turn of the ready queue. If it throws, the
    /// first exception is kept, the scope is stopped, and join() rethrows it.
    void spawn(Task<void> task);

    /// The token children should observe.
    std::stop_token token() const noexcept { return stop_.get_token(); }
    /// Asks every child to stop (through token()).
    void request_stop() noexcept { stop_.request_stop(); }
    bool stop_requested() const noexcept { return stop_.stop_requested(); }
    /// Children not yet finished.
    std::size_t size() const noexcept { return count_; }

    class JoinAwaiter {
    public:
        explicit JoinAwaiter(TaskScope& s) : scope_(&s) {}
        JoinAwaiter(JoinAwaiter&& o) noexcept : scope_(o.scope_) {}
        ~JoinAwaiter();
        bool await_ready() const noexcept { return scope_->count_ == 0; }
        void await_suspend(std::coroutine_handle<> h);
        /// Rethrows the first exception of a child, if any.
        void await_resume();

    private:
        friend class TaskScope;
        TaskScope* scope_;
        detail::Completion<bool> done_;
    };
    /// Waits until every child has finished; rethrows the first child error.
    JoinAwaiter join() { return JoinAwaiter(*this); }

private:
    friend struct detail::ScopeChild;
    void child_done(detail::ScopeChild& child, std::exception_ptr error);

    struct Forward {
        std::stop_source* src;
        void operator()() const noexcept { src->request_stop(); }
    };
    std::stop_source stop_;
    std::optional<std::stop_callback<Forward>> link_;
    detail::ScopeChild* children_ = nullptr;
    std::size_t count_ = 0;
    std::exception_ptr first_error_;
    JoinAwaiter* joiner_ = nullptr;
};

}  // namespace reins
