// detail::Completion<R>: the slot a suspended coroutine waits on.
//
// It lives inside an awaiter (so in the coroutine frame). Heap op state that
// libuv calls back into holds a pointer to it while it is linked, and must
// unlink itself (or be unlinked by the awaiter's destructor) before the frame
// goes away. complete() stores the result and schedules the waiter through
// the ready queue; it never resumes inline.
#pragma once

#include <coroutine>
#include <optional>
#include <stop_token>
#include <utility>

#include "reins/async/loop.hpp"

namespace reins::detail {

template <class R>
class Completion {
public:
    Completion() = default;
    Completion(const Completion&) = delete;
    Completion& operator=(const Completion&) = delete;
    ~Completion() {
        // The frame is going away after we scheduled it but before it ran.
        if (scheduled_) Loop::current().unschedule(waiter_);
    }

    void arm(std::coroutine_handle<> h) noexcept { waiter_ = h; }
    bool done() const noexcept { return result_.has_value(); }

    /// Stores the result and schedules the waiter (first completion wins).
    void complete(R r) {
        if (result_) return;
        result_.emplace(std::move(r));
        if (waiter_) {
            scheduled_ = true;
            Loop::current().schedule(waiter_);
        }
    }

    /// Called from await_resume.
    R take() {
        scheduled_ = false;
        return std::move(*result_);
    }

private:
    std::coroutine_handle<> waiter_;
    std::optional<R> result_;
    bool scheduled_ = false;
};

/// Registers `fn` to run when `stop` is requested; at once if it already was.
/// The callback runs synchronously inside request_stop(): it may only stop or
/// close libuv objects and complete the awaiter, never resume.
template <class Fn>
class StopHook {
public:
    StopHook() = default;
    void attach(const std::stop_token& stop, Fn fn) {
        if (stop.stop_possible()) cb_.emplace(stop, std::move(fn));
    }
    void detach() noexcept { cb_.reset(); }

private:
    std::optional<std::stop_callback<Fn>> cb_;
};

}  // namespace reins::detail
