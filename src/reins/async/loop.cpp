#include "reins/async/loop.hpp"

#include <algorithm>
#include <cstdio>

#include "reins/async/signal_set.hpp"

namespace reins {
namespace {
thread_local Loop* t_current = nullptr;
}

Loop::Loop() {
    if (t_current) {
        std::fputs("reins: a second Loop on one thread; signals are process-wide, use one Loop\n", stderr);
        std::abort();
    }
    int rc = uv_loop_init(&loop_);
    if (rc != 0) {
        std::fprintf(stderr, "reins: uv_loop_init failed: %s\n", uv_strerror(rc));
        std::abort();
    }
    wake_ = new uv_idle_t;
    uv_idle_init(&loop_, wake_);
    t_current = this;
}

Loop::~Loop() {
    if (!closed_) {
        auto r = close();
        if (!r) std::fprintf(stderr, "reins: %s\n", r.error().message().c_str());
    }
    t_current = nullptr;
}

Loop& Loop::current() noexcept {
    if (!t_current) {
        std::fputs("reins: no Loop on this thread; create a reins::Loop first\n", stderr);
        std::abort();
    }
    return *t_current;
}

void Loop::schedule(std::coroutine_handle<> h) {
    if (in_uv_run_ && !uv_is_active(reinterpret_cast<uv_handle_t*>(wake_)))
        uv_idle_start(wake_, [](uv_idle_t*) {});
    ready_.push_back(h);
}

void Loop::unschedule(std::coroutine_handle<> h) noexcept {
    std::replace(ready_.begin(), ready_.end(), h, std::coroutine_handle<>{});
}

void Loop::run_ready() {
    // Only the batch present now: tasks that keep waking each other must not
    // starve libuv's I/O.
    for (std::size_t n = ready_.size(); n > 0 && !ready_.empty(); --n) {
        auto h = ready_.front();
        ready_.pop_front();
        if (h) h.resume();
    }
}

void Loop::drive(std::coroutine_handle<> root) {
    schedule(root);
    for (;;) {
        run_ready();
        if (root.done()) return;
        in_uv_run_ = true;
        int alive = uv_run(&loop_, ready_.empty() ? UV_RUN_ONCE : UV_RUN_NOWAIT);
        in_uv_run_ = false;
        if (uv_is_active(reinterpret_cast<uv_handle_t*>(wake_))) {
            uv_idle_stop(wake_);
            alive = 1;  // it scheduled something
        }
        if (alive == 0 && ready_.empty() && !root.done()) {
            unschedule(root);
            throw Deadlock(
                "reins: deadlock: the root task is suspended but no timer, I/O, process or "
                "ready task can wake it (live handles: " +
                describe_handles() + ")");
        }
    }
}

void Loop::child_spawned(int pid) { children_.insert(pid); }

void Loop::child_reaped(int pid) noexcept {
    auto it = children_.find(pid);
    if (it != children_.end()) children_.erase(it);
}

detail::SignalRegistry& Loop::signals() {
    if (!signals_) signals_ = new detail::SignalRegistry(&loop_);
    return *signals_;
}

std::string Loop::describe_handles() {
    std::string out;
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void* arg) {
            auto* s = static_cast<std::string*>(arg);
            if (!s->empty()) *s += ", ";
            *s += uv_handle_type_name(uv_handle_get_type(h));
            if (uv_is_closing(h)) *s += " (closing)";
            else if (uv_is_active(h)) *s += " (active)";
        },
        &out);
    return out.empty() ? "none" : out;
}

Result<void> Loop::close() {
    if (closed_) return {};
    if (wake_) {
        uv_close(reinterpret_cast<uv_handle_t*>(wake_), [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
        wake_ = nullptr;
    }
    if (signals_) {
        signals_->close();  // frees itself from the watchers' close callbacks
        signals_ = nullptr;
    }
    // Orphans were sent SIGKILL; their exit callbacks close and free them.
    while (orphans_ > 0 && uv_run(&loop_, UV_RUN_ONCE) != 0) {
    }
    // Flush close callbacks (a close callback may close another handle).
    for (int i = 0; i < 16 && uv_loop_alive(&loop_); ++i) uv_run(&loop_, UV_RUN_NOWAIT);
    int rc = uv_loop_close(&loop_);
    if (rc != 0) {
        return fail(uv_error(rc, "closing the event loop with live handles: " + describe_handles() +
                                     " — a handle was not closed by its owner"));
    }
    closed_ = true;
    return {};
}

}  // namespace reins
