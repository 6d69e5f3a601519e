#include "reins/async/task_scope.hpp"

#include <cassert>

namespace reins {
namespace detail {

/// The promise of the runner coroutine that wraps each spawned task; it links
/// itself into the scope's list and reports to the scope when done.
struct ScopeChild {
    struct Runner {
        using promise_type = ScopeChild;
        std::coroutine_handle<ScopeChild> h;
    };

    TaskScope* scope;
    ScopeChild* prev = nullptr;
    ScopeChild* next = nullptr;
    std::exception_ptr error;

    ScopeChild(TaskScope& s, Task<void>&) : scope(&s) {}

    Runner get_return_object() noexcept { return {std::coroutine_handle<ScopeChild>::from_promise(*this)}; }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    struct Final {
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<ScopeChild> h) noexcept {
            ScopeChild& c = h.promise();
            c.scope->child_done(c, c.error);
            h.destroy();
        }
        void await_resume() const noexcept {}
    };
    Final final_suspend() const noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { error = std::current_exception(); }

    std::coroutine_handle<ScopeChild> handle() { return std::coroutine_handle<ScopeChild>::from_promise(*this); }
};

namespace {
// Parameters by value (CP.53): the scope outlives the runner by construction.
ScopeChild::Runner run_child(TaskScope& /*scope*/, Task<void> task) { co_await std::move(task); }
}  // namespace

}  // namespace detail

TaskScope::TaskScope(std::stop_token parent) {
    if (parent.stop_possible()) link_.emplace(std::move(parent), Forward{&stop_});
}

TaskScope::~TaskScope() {
    assert((children_ == nullptr || Loop::current().tearing_down()) &&
           "TaskScope destroyed with running children: join() it first");
    link_.reset();
    while (detail::ScopeChild* c = children_) {
        children_ = c->next;
        auto h = c->handle();
        Loop::current().unschedule(h);
        h.destroy();
    }
}

void TaskScope::spawn(Task<void> task) {
    auto runner = detail::run_child(*this, std::move(task));
    detail::ScopeChild& c = runner.h.promise();
    c.next = children_;
    if (children_) children_->prev = &c;
    children_ = &c;
    ++count_;
    Loop::current().schedule(runner.h);
}

void TaskScope::child_done(detail::ScopeChild& c, std::exception_ptr error) {
    if (c.prev) c.prev->next = c.next;
    else children_ = c.next;
    if (c.next) c.next->prev = c.prev;
    --count_;
    if (error && !first_error_) {
        first_error_ = error;
        stop_.request_stop();
    }
    if (count_ == 0 && joiner_) std::exchange(joiner_, nullptr)->done_.complete(true);
}

TaskScope::JoinAwaiter::~JoinAwaiter() {
    if (scope_->joiner_ == this) scope_->joiner_ = nullptr;
}

void TaskScope::JoinAwaiter::await_suspend(std::coroutine_handle<> h) {
    assert(scope_->joiner_ == nullptr && "TaskScope joined twice at once");
    done_.arm(h);
    scope_->joiner_ = this;
}

void TaskScope::JoinAwaiter::await_resume() {
    if (done_.done()) done_.take();
    if (auto e = std::exchange(scope_->first_error_, nullptr)) std::rethrow_exception(e);
}

}  // namespace reins
