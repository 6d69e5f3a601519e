// Task<T>: a lazy, move-only coroutine result (the cppcoro shape).
//
// Nothing runs until the task is awaited (or given to a TaskScope, or to
// Loop::run), so detached work is impossible by construction.
//
// Awaiting resumes the child in place. If the child completes before it ever
// suspends, the awaiter does not suspend the caller at all, so a loop of
// synchronously completing awaits runs in constant stack. (Plain symmetric
// transfer is not a tail call in g++ 12 at -O0: 100 000 such awaits overflow
// the stack.) A child that suspended resumes its caller from its final
// suspend by symmetric transfer.
#pragma once

#include <cassert>
#include <coroutine>
#include <exception>
#include <utility>
#include <variant>

namespace reins {

template <class T = void>
class Task;

namespace detail {

struct TaskPromiseBase {
    enum class Phase : unsigned char { idle, inline_running, inline_done, detached };
    std::coroutine_handle<> continuation;
    Phase phase = Phase::idle;

    struct FinalAwaiter {
        bool await_ready() const noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
            auto& p = h.promise();
            if (p.phase == Phase::inline_running) {
                // Still inside the awaiter's resume(): let it continue the caller.
                p.phase = Phase::inline_done;
                return std::noop_coroutine();
            }
            return p.continuation ? p.continuation : std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };

    std::suspend_always initial_suspend() const noexcept { return {}; }
    FinalAwaiter final_suspend() const noexcept { return {}; }
};

template <class T>
struct TaskPromise : TaskPromiseBase {
    std::variant<std::monostate, T, std::exception_ptr> result;

    Task<T> get_return_object() noexcept;
    template <class U>
    void return_value(U&& v) {
        result.template emplace<1>(std::forward<U>(v));
    }
    void unhandled_exception() noexcept { result.template emplace<2>(std::current_exception()); }
    T take() {
        if (result.index() == 2) std::rethrow_exception(std::get<2>(result));
        assert(result.index() == 1 && "task result taken before completion or twice");
        return std::get<1>(std::move(result));
    }
};

template <>
struct TaskPromise<void> : TaskPromiseBase {
    std::exception_ptr error;

    Task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void unhandled_exception() noexcept { error = std::current_exception(); }
    void take() {
        if (error) std::rethrow_exception(error);
    }
};

}  // namespace detail

/// A coroutine producing a T (or an exception, rethrown to the awaiter).
template <class T>
class [[nodiscard]] Task {
public:
    using promise_type = detail::TaskPromise<T>;
    using handle_type = std::coroutine_handle<promise_type>;
    using value_type = T;

    Task() noexcept = default;
    explicit Task(handle_type h) noexcept : h_(h) {}
    Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    Task& operator=(Task&& o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;
    /// Destroys the frame, and with it the frames it awaits. Every awaiter
    /// of src/reins/async unlinks itself in its destructor (from its libuv
    /// handle or request, wait list and the Loop's ready queue), so a frame
    /// suspended on one may be destroyed, on the Loop's thread while the
    /// Loop is open. Not covered: a TaskScope in the frame that still has
    /// children asserts (unless Loop::run is unwinding after a Deadlock; a
    /// release build destroys the children), and so does a when_all,
    /// when_any or with_timeout under way. A result already handed to the
    /// awaiter but not yet resumed with is lost (a Channel value, a
    /// datagram, a signal; an accepted connection is closed); a write
    /// already queued still goes out.
    ~Task() { reset(); }

    /// True once the body has finished (returned or thrown), or when empty.
    bool done() const noexcept { return !h_ || h_.done(); }
    /// The frame, for the runtime (Loop::run, LineReader's refill) and tests
    /// that start a task by hand; not for general use.
    handle_type handle() const noexcept { return h_; }
    /// The result of a finished task; rethrows its exception.
    T take_result() { return h_.promise().take(); }

    struct Awaiter {
        handle_type h;
        bool await_ready() const noexcept { return !h || h.done(); }
        bool await_suspend(std::coroutine_handle<> caller) {
            using Phase = detail::TaskPromiseBase::Phase;
            auto& p = h.promise();
            p.continuation = caller;
            p.phase = Phase::inline_running;
            h.resume();
            if (p.phase == Phase::inline_done) return false;  // finished: go on without suspending
            p.phase = Phase::detached;  // it suspended: its final suspend resumes the caller
            return true;
        }
        T await_resume() {
            assert(h && "awaiting an empty Task");
            return h.promise().take();
        }
    };
    /// Starts the task and resumes the caller when it ends.
    Awaiter operator co_await() & noexcept { return Awaiter{h_}; }
    Awaiter operator co_await() && noexcept { return Awaiter{h_}; }

private:
    void reset() noexcept {
        if (h_) std::exchange(h_, {}).destroy();
    }
    handle_type h_;
};

namespace detail {
template <class T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
    return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}
inline Task<void> TaskPromise<void>::get_return_object() noexcept {
    return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}
}  // namespace detail

}  // namespace reins
