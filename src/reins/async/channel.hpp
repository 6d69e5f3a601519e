// Channel<T>: a bounded, closable, single-threaded channel between tasks.
#pragma once

#include <cassert>
#include <cstddef>
#include <deque>
#include <optional>
#include <stop_token>
#include <utility>

#include "reins/async/completion.hpp"
#include "reins/async/result.hpp"
#include "reins/async/wait_list.hpp"

namespace reins {

/// A FIFO of at most `capacity` values between tasks of one thread.
/// Senders wait while it is full (backpressure), receivers while it is empty.
/// close() wakes every waiter: receivers drain what is buffered first, then
/// get Errc::channel_closed; senders get Errc::channel_closed at once.
/// Wake-ups go through the ready queue; a value sent to a waiting receiver
/// is handed over directly.
template <class T>
class Channel {
public:
    /// Capacity >= 1; 1 suits command mailboxes.
    explicit Channel(std::size_t capacity = 16) : capacity_(capacity) { assert(capacity >= 1); }
    /// Closes the channel, waking every waiter.
    ~Channel() { close(); }
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    class SendAwaiter;
    class RecvAwaiter;

    /// Sends `v`, waiting while the channel is full. Fails with
    /// channel_closed or cancelled (the value is then dropped).
    SendAwaiter send(T v, std::stop_token stop = {}) { return SendAwaiter(*this, std::move(v), std::move(stop)); }
    /// Receives the oldest value, waiting while the channel is empty. Fails
    /// with channel_closed (once closed and drained) or cancelled.
    RecvAwaiter recv(std::stop_token stop = {}) { return RecvAwaiter(*this, std::move(stop)); }

    /// For producers that cannot wait (libuv callbacks): false when full or closed.
    bool try_send(T v) {
        if (closed_) return false;
        if (deliver(v)) return true;
        if (buf_.size() >= capacity_) return false;
        buf_.push_back(std::move(v));
        return true;
    }
    /// A buffered value, if any (refills from a waiting sender).
    std::optional<T> try_recv() {
        if (buf_.empty()) return std::nullopt;
        std::optional<T> v(std::move(buf_.front()));
        buf_.pop_front();
        refill();
        return v;
    }

    /// Idempotent, callable from either side.
    void close() {
        if (closed_) return;
        closed_ = true;
        while (auto* n = receivers_.pop_front())
            static_cast<RecvAwaiter*>(n)->done_.complete(fail(Errc::channel_closed));
        while (auto* n = senders_.pop_front())
            static_cast<SendAwaiter*>(n)->done_.complete(fail(Errc::channel_closed));
    }

    bool closed() const noexcept { return closed_; }
    std::size_t size() const noexcept { return buf_.size(); }
    std::size_t capacity() const noexcept { return capacity_; }

    class SendAwaiter : detail::WaitNode {
    public:
        SendAwaiter(Channel& ch, T v, std::stop_token stop) : ch_(&ch), value_(std::move(v)), stop_(std::move(stop)) {}
        SendAwaiter(SendAwaiter&& o) noexcept : ch_(o.ch_), value_(std::move(o.value_)), stop_(std::move(o.stop_)) {}
        ~SendAwaiter() {
            hook_.detach();
            if (linked) ch_->senders_.remove(this);  // unlinked ones may outlive the channel
        }
        bool await_ready() {
            if (stop_.stop_requested()) done_.complete(fail(Errc::cancelled));
            else if (ch_->closed_) done_.complete(fail(Errc::channel_closed));
            else if (ch_->deliver(*value_)) done_.complete({});
            else if (ch_->buf_.size() < ch_->capacity_) {
                ch_->buf_.push_back(std::move(*value_));
                done_.complete({});
            }
            return done_.done();
        }
        void await_suspend(std::coroutine_handle<> h) {
            done_.arm(h);
            ch_->senders_.push_back(this);
            hook_.attach(stop_, Cancel{this});
        }
        Result<void> await_resume() {
            hook_.detach();
            return done_.take();
        }

    private:
        friend class Channel;
        struct Cancel {
            SendAwaiter* self;
            void operator()() const noexcept {
                self->ch_->senders_.remove(self);
                self->done_.complete(fail(Errc::cancelled));
            }
        };
        Channel* ch_;
        std::optional<T> value_;
        std::stop_token stop_;
        detail::Completion<Result<void>> done_;
        detail::StopHook<Cancel> hook_;
    };

    class RecvAwaiter : detail::WaitNode {
    public:
        RecvAwaiter(Channel& ch, std::stop_token stop) : ch_(&ch), stop_(std::move(stop)) {}
        RecvAwaiter(RecvAwaiter&& o) noexcept : ch_(o.ch_), stop_(std::move(o.stop_)) {}
        ~RecvAwaiter() {
            hook_.detach();
            if (linked) ch_->receivers_.remove(this);
        }
        bool await_ready() {
            if (stop_.stop_requested()) done_.complete(fail(Errc::cancelled));
            else if (auto v = ch_->try_recv()) done_.complete(std::move(*v));
            else if (ch_->closed_) done_.complete(fail(Errc::channel_closed));
            return done_.done();
        }
        void await_suspend(std::coroutine_handle<> h) {
            done_.arm(h);
            ch_->receivers_.push_back(this);
            hook_.attach(stop_, Cancel{this});
        }
        Result<T> await_resume() {
            hook_.detach();
            return done_.take();
        }

    private:
        friend class Channel;
        struct Cancel {
            RecvAwaiter* self;
            void operator()() const noexcept {
                self->ch_->receivers_.remove(self);
                self->done_.complete(fail(Errc::cancelled));
            }
        };
        Channel* ch_;
        std::stop_token stop_;
        detail::Completion<Result<T>> done_;
        detail::StopHook<Cancel> hook_;
    };

private:
    // Hands `v` to the oldest waiting receiver, if any.
    bool deliver(T& v) {
        auto* n = receivers_.pop_front();
        if (!n) return false;
        static_cast<RecvAwaiter*>(n)->done_.complete(std::move(v));
        return true;
    }
    // Moves the oldest waiting sender's value into the freed slot.
    void refill() {
        if (auto* n = senders_.pop_front()) {
            auto* s = static_cast<SendAwaiter*>(n);
            buf_.push_back(std::move(*s->value_));
            s->done_.complete({});
        }
    }

    std::size_t capacity_;
    std::deque<T> buf_;
    detail::WaitList receivers_;
    detail::WaitList senders_;
    bool closed_ = false;
};

}  // namespace reins
