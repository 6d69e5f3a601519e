#include "reins/async/signal_set.hpp"

#include <algorithm>
#include <csignal>

#include "reins/async/close_handle.hpp"

namespace reins {
namespace detail {

struct SignalRegistry::Watch {
    uv_signal_t handle{};
    SignalRegistry* reg = nullptr;
    int waiting = 0;
};

Result<void> SignalRegistry::subscribe(SignalSet* set, const std::vector<int>& signals) {
    for (int sig : signals) {
        if (watches_.count(sig)) continue;
        auto* w = new Watch;
        w->reg = this;
        w->handle.data = w;
        uv_signal_init(loop_, &w->handle);
        int rc = uv_signal_start(&w->handle, &SignalRegistry::on_signal, sig);
        if (rc != 0) {
            detail::close_and_delete<Watch>(&w->handle);
            return fail(uv_error(rc, "watch signal " + std::to_string(sig)));
        }
        uv_unref(reinterpret_cast<uv_handle_t*>(&w->handle));
        watches_[sig] = w;
    }
    sets_.push_back(set);
    return {};
}

void SignalRegistry::unsubscribe(SignalSet* set) noexcept {
    sets_.erase(std::remove(sets_.begin(), sets_.end(), set), sets_.end());
}

void SignalRegistry::waiting(const std::vector<int>& signals, int delta) noexcept {
    for (int sig : signals) {
        auto it = watches_.find(sig);
        if (it == watches_.end()) continue;
        Watch* w = it->second;
        int before = w->waiting;
        w->waiting += delta;
        auto* h = reinterpret_cast<uv_handle_t*>(&w->handle);
        if (before == 0 && w->waiting > 0) uv_ref(h);
        else if (before > 0 && w->waiting == 0) uv_unref(h);
    }
}

void SignalRegistry::on_signal(uv_signal_t* h, int signum) {
    auto* w = static_cast<Watch*>(h->data);
    // Copy: a delivery may not change the list, but be robust to it anyway.
    auto sets = w->reg->sets_;
    for (SignalSet* s : sets)
        if (s->wants(signum)) s->deliver(signum);
}

void SignalRegistry::close() noexcept {
    for (SignalSet* s : sets_) s->detach();
    sets_.clear();
    for (auto& [sig, w] : watches_)
        detail::close_and_delete<Watch>(&w->handle);
    watches_.clear();
    delete this;
}

}  // namespace detail

Result<SignalSet> SignalSet::create(std::initializer_list<int> signals) {
    for (int sig : signals) {
        if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS ||
            sig == SIGILL || sig == SIGFPE || sig >= SIGRTMIN) {
            return fail(uv_error(UV_EINVAL, "SignalSet: signal " + std::to_string(sig) + " cannot be watched"));
        }
    }
    SignalSet set{std::vector<int>(signals)};
    auto& reg = Loop::current().signals();
    auto r = reg.subscribe(&set, set.signals_);
    if (!r) return fail(std::move(r).error());
    set.reg_ = &reg;
    return set;
}

SignalSet::SignalSet(SignalSet&& o) noexcept
    : signals_(std::move(o.signals_)), pending_(std::move(o.pending_)), reg_(std::exchange(o.reg_, nullptr)) {
    assert(o.waiter_ == nullptr && "SignalSet moved while awaited");
    if (reg_) {
        reg_->unsubscribe(&o);
        (void)reg_->subscribe(this, signals_);  // watchers exist already: cannot fail
    }
}

SignalSet::~SignalSet() {
    if (waiter_) waiter_->finish(fail(Errc::cancelled, "signal set destroyed"));
    if (reg_) reg_->unsubscribe(this);
}

bool SignalSet::wants(int signum) const noexcept {
    return std::find(signals_.begin(), signals_.end(), signum) != signals_.end();
}

void SignalSet::deliver(int signum) {
    if (waiter_) {
        waiter_->finish(signum);
        return;
    }
    if (std::find(pending_.begin(), pending_.end(), signum) == pending_.end()) pending_.push_back(signum);
}

void SignalSet::detach() noexcept {
    reg_ = nullptr;
    if (waiter_) waiter_->finish(fail(Errc::cancelled, "event loop closed"));
}

SignalSet::NextAwaiter SignalSet::next(std::stop_token stop) { return NextAwaiter(*this, std::move(stop)); }

SignalSet::NextAwaiter::~NextAwaiter() {
    hook_.detach();
    if (set_->waiter_ == this) finish(fail(Errc::cancelled));
}

bool SignalSet::NextAwaiter::await_ready() {
    if (stop_.stop_requested()) done_.complete(fail(Errc::cancelled));
    else if (!set_->pending_.empty()) {
        done_.complete(set_->pending_.front());
        set_->pending_.pop_front();
    } else if (!set_->reg_) {
        done_.complete(fail(Errc::cancelled, "event loop closed"));
    }
    return done_.done();
}

void SignalSet::NextAwaiter::await_suspend(std::coroutine_handle<> h) {
    assert(set_->waiter_ == nullptr && "SignalSet::next awaited twice at once");
    done_.arm(h);
    set_->waiter_ = this;
    set_->reg_->waiting(set_->signals_, +1);
    hook_.attach(stop_, Cancel{this});
}

Result<int> SignalSet::NextAwaiter::await_resume() {
    hook_.detach();
    return done_.take();
}

void SignalSet::NextAwaiter::finish(Result<int> r) {
    if (set_->waiter_ == this) {
        set_->waiter_ = nullptr;
        if (set_->reg_) set_->reg_->waiting(set_->signals_, -1);
    }
    done_.complete(std::move(r));
}

}  // namespace reins
