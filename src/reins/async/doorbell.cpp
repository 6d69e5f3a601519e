#include "reins/async/doorbell.hpp"

#include <cassert>
#include <utility>

#include "reins/async/close_handle.hpp"

namespace reins {

struct Doorbell::State {
    uv_async_t async{};
    bool rang = false;    // rang while nobody waited
    bool closed = false;  // the bell was closed (the handle is closing)
    WaitAwaiter* waiter = nullptr;

    uv_handle_t* handle() noexcept { return reinterpret_cast<uv_handle_t*>(&async); }

    // On the loop's thread, after one or more uv_async_send.
    static void on_ring(uv_async_t* a) {
        auto* st = static_cast<State*>(a->data);
        if (st->waiter) st->waiter->finish({});
        else st->rang = true;
    }
};

Doorbell::Doorbell() : st_(new State) {
    st_->async.data = st_;
    int rc = uv_async_init(Loop::current().uv(), &st_->async, &State::on_ring);
    assert(rc == 0 && "uv_async_init only fails on a bad loop");
    (void)rc;
    // The bell alone does not keep the loop running; a waiter does.
    uv_unref(st_->handle());
}

Doorbell::~Doorbell() { close(); }

void Doorbell::ring() noexcept {
    std::lock_guard lock(mu_);
    if (st_) uv_async_send(&st_->async);
}

void Doorbell::close() noexcept {
    State* st;
    {
        std::lock_guard lock(mu_);
        st = std::exchange(st_, nullptr);
    }
    if (!st) return;
    st->closed = true;
    if (st->waiter) st->waiter->finish(fail(Errc::cancelled, "doorbell closed"));
    detail::close_and_delete<State>(st->handle());
}

Doorbell::WaitAwaiter Doorbell::wait(std::stop_token stop) {
    // Only the loop's thread reads st_ without the mutex: close() runs there too.
    return WaitAwaiter(st_, std::move(stop));
}

Doorbell::WaitAwaiter::~WaitAwaiter() {
    hook_.detach();
    if (st_ && st_->waiter == this) {
        st_->waiter = nullptr;
        uv_unref(st_->handle());
    }
}

bool Doorbell::WaitAwaiter::await_ready() {
    if (!st_ || st_->closed) {
        done_.complete(fail(Errc::cancelled, "doorbell closed"));
        return true;
    }
    if (stop_.stop_requested()) {
        done_.complete(fail(Errc::cancelled));
        return true;
    }
    if (std::exchange(st_->rang, false)) {
        done_.complete({});
        return true;
    }
    return false;
}

void Doorbell::WaitAwaiter::await_suspend(std::coroutine_handle<> h) {
    done_.arm(h);
    assert(st_->waiter == nullptr && "Doorbell::wait awaited twice at once");
    st_->waiter = this;
    uv_ref(st_->handle());  // a waiter keeps the loop alive
    hook_.attach(stop_, Cancel{this});
}

void Doorbell::WaitAwaiter::finish(Result<void> r) {
    hook_.detach();
    if (st_ && st_->waiter == this) {
        st_->waiter = nullptr;
        uv_unref(st_->handle());
    }
    st_ = nullptr;  // the state may be freed before this awaiter goes away
    done_.complete(std::move(r));
}

}  // namespace reins
