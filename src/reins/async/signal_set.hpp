// SignalSet: awaiting process signals such as SIGINT, SIGTERM and SIGHUP.
//
// Signals are process-wide. libuv restores SIG_DFL when the last watcher of
// a signal stops, after which a late SIGTERM would kill reins without
// cleanup, so the Loop keeps one watcher per signal number from first use
// until Loop::close(). Child exits never come through here: they arrive
// through libuv's process exit callback (see Process).
#pragma once

#include <deque>
#include <initializer_list>
#include <map>
#include <stop_token>
#include <vector>

#include "reins/async/completion.hpp"
#include "reins/async/result.hpp"

namespace reins {

class SignalSet;

namespace detail {

/// The Loop's process-wide signal watchers and the sets listening to them.
class SignalRegistry {
public:
    explicit SignalRegistry(uv_loop_t* loop) : loop_(loop) {}
    SignalRegistry(const SignalRegistry&) = delete;
    SignalRegistry& operator=(const SignalRegistry&) = delete;

    Result<void> subscribe(SignalSet* set, const std::vector<int>& signals);
    void unsubscribe(SignalSet* set) noexcept;
    /// A set started or stopped waiting: only awaited watchers keep the loop alive.
    void waiting(const std::vector<int>& signals, int delta) noexcept;
    /// Closes every watcher and detaches every set; deletes this registry.
    void close() noexcept;

private:
    struct Watch;
    static void on_signal(uv_signal_t* h, int signum);

    uv_loop_t* loop_;
    std::map<int, Watch*> watches_;
    std::vector<SignalSet*> sets_;
};

}  // namespace detail

/// Receives the signals it was created for, in arrival order; a signal that
/// arrives again while still pending is coalesced. Signals that arrive while
/// nobody awaits next() are kept pending; the set does not keep the loop
/// alive unless it is awaited.
class SignalSet {
public:
    /// Watches `signals` (never SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL,
    /// SIGFPE: those are refused by create()).
    static Result<SignalSet> create(std::initializer_list<int> signals);
    ~SignalSet();
    SignalSet(SignalSet&& o) noexcept;
    SignalSet& operator=(SignalSet&&) = delete;

    class NextAwaiter;
    /// The next pending signal number, or Errc::cancelled.
    NextAwaiter next(std::stop_token stop = {});

private:
    friend class detail::SignalRegistry;
    explicit SignalSet(std::vector<int> signals) : signals_(std::move(signals)) {}
    void deliver(int signum);
    void detach() noexcept;
    bool wants(int signum) const noexcept;

    std::vector<int> signals_;
    std::deque<int> pending_;
    detail::SignalRegistry* reg_ = nullptr;
    NextAwaiter* waiter_ = nullptr;
};

class SignalSet::NextAwaiter {
public:
    NextAwaiter(SignalSet& s, std::stop_token stop) : set_(&s), stop_(std::move(stop)) {}
    NextAwaiter(NextAwaiter&& o) noexcept : set_(o.set_), stop_(std::move(o.stop_)) {}
    ~NextAwaiter();
    bool await_ready();
    void await_suspend(std::coroutine_handle<> h);
    Result<int> await_resume();

private:
    friend class SignalSet;
    struct Cancel {
        NextAwaiter* self;
        void operator()() const noexcept { self->finish(fail(Errc::cancelled)); }
    };
    void finish(Result<int> r);

    SignalSet* set_;
    std::stop_token stop_;
    detail::Completion<Result<int>> done_;
    detail::StopHook<Cancel> hook_;
};

}  // namespace reins
