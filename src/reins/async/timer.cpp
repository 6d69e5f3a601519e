#include "reins/async/timer.hpp"

#include <algorithm>

#include "reins/async/close_handle.hpp"

namespace reins {

struct Timer::State {
    uv_timer_t handle{};
    WaitAwaiter* waiter = nullptr;
};

Timer::Timer() : state_(new State) {
    uv_timer_init(Loop::current().uv(), &state_->handle);
    state_->handle.data = state_;
}

Timer::~Timer() { release(); }

Timer::Timer(Timer&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}

Timer& Timer::operator=(Timer&& o) noexcept {
    if (this != &o) {
        release();
        state_ = std::exchange(o.state_, nullptr);
    }
    return *this;
}

void Timer::release() noexcept {
    if (!state_) return;
    State* st = std::exchange(state_, nullptr);
    if (WaitAwaiter* w = std::exchange(st->waiter, nullptr)) {
        w->st_ = nullptr;
        w->hook_.detach();
        w->done_.complete(fail(Errc::cancelled, "timer destroyed"));
    }
    detail::close_and_delete<State>(&st->handle);
}

Timer::WaitAwaiter Timer::wait(std::chrono::milliseconds d, std::stop_token stop) {
    return WaitAwaiter(state_, d, std::move(stop));
}

Timer::WaitAwaiter::~WaitAwaiter() {
    hook_.detach();
    unlink();
}

void Timer::WaitAwaiter::unlink() noexcept {
    if (st_ && st_->waiter == this) {
        uv_timer_stop(&st_->handle);
        st_->waiter = nullptr;
    }
}

bool Timer::WaitAwaiter::await_ready() {
    if (stop_.stop_requested()) {
        done_.complete(fail(Errc::cancelled));
        return true;
    }
    return false;
}

void Timer::WaitAwaiter::await_suspend(std::coroutine_handle<> h) {
    done_.arm(h);
    if (!st_) {
        done_.complete(fail(Errc::cancelled, "timer destroyed"));
        return;
    }
    // A single waiter: a second concurrent wait would silently steal the first.
    assert(st_->waiter == nullptr && "Timer::wait awaited twice at once");
    st_->waiter = this;
    auto ms = static_cast<uint64_t>(std::max<std::chrono::milliseconds::rep>(delay_.count(), 0));
    // uv_now is cached per loop turn; refresh it so a timer started after
    // long work in the ready queue does not fire early.
    uv_update_time(st_->handle.loop);
    uv_timer_start(&st_->handle, &WaitAwaiter::on_fire, ms, 0);
    hook_.attach(stop_, Cancel{this});
}

Result<void> Timer::WaitAwaiter::await_resume() {
    hook_.detach();
    return done_.take();
}

void Timer::WaitAwaiter::on_fire(uv_timer_t* t) {
    auto* st = static_cast<State*>(t->data);
    if (WaitAwaiter* w = std::exchange(st->waiter, nullptr)) w->done_.complete({});
}

void Timer::WaitAwaiter::cancel() noexcept {
    unlink();
    done_.complete(fail(Errc::cancelled));
}

Task<void> sleep_until_stopped(std::stop_token stop) {
    for (;;) {
        auto r = co_await sleep(std::chrono::hours(24 * 365), stop);
        if (!r) co_return;  // cancelled: stop was requested
    }
}

}  // namespace reins
