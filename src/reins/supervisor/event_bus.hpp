// EventBus: every transition of every service, to whoever subscribed.
//
// The supervisor never waits for a subscriber: each subscription has a
// bounded queue, and a subscriber that falls behind loses its oldest events
// (counted in lagged()) rather than stalling the services.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <stop_token>
#include <vector>

#include "reins/async/channel.hpp"
#include "reins/supervisor/service_state.hpp"

namespace reins::supervisor {

class EventBus;

/// A subscriber's queue; unsubscribes when destroyed.
class EventSubscription {
public:
    EventSubscription(EventSubscription&&) noexcept = default;
    EventSubscription& operator=(EventSubscription&&) noexcept = default;
    ~EventSubscription();

    /// The next event; Errc::channel_closed once the bus is gone.
    auto next(std::stop_token stop = {}) { return q_->events.recv(std::move(stop)); }
    /// Events dropped because this subscriber fell behind.
    std::size_t lagged() const noexcept { return q_->lagged; }

private:
    friend class EventBus;
    struct Queue {
        Queue(EventBus* b, std::size_t cap) : events(cap), bus(b) {}
        Channel<ServiceEvent> events;
        EventBus* bus;  // cleared when the bus goes first
        std::size_t lagged = 0;
    };
    explicit EventSubscription(std::shared_ptr<Queue> q) : q_(std::move(q)) {}
    std::shared_ptr<Queue> q_;
};

/// Fan-out of service events to queued subscribers and synchronous listeners.
class EventBus {
public:
    EventBus() = default;
    ~EventBus();
    EventBus(const EventBus&) = delete;
    EventBus& operator=(const EventBus&) = delete;

    /// A queued subscription holding at most `capacity` undelivered events.
    EventSubscription subscribe(std::size_t capacity = 256);
    /// A callback run synchronously on every event (state files, logs); it
    /// must not block, and should not throw: it runs inside the publishing
    /// service's actor, so what it throws is caught and counted here rather
    /// than unwinding that actor mid-transition (which left the service
    /// wedged). Listeners live as long as the bus.
    void add_listener(std::function<void(const ServiceEvent&)> fn) { listeners_.push_back(std::move(fn)); }
    /// Delivers `e` to every listener and subscriber; never throws from a listener.
    void publish(const ServiceEvent& e);
    /// Times a listener threw (a bug in it; the event still reached the others).
    std::size_t listener_failures() const noexcept { return listener_failures_; }

private:
    friend class EventSubscription;
    void unsubscribe(EventSubscription::Queue* q) noexcept;

    std::vector<std::function<void(const ServiceEvent&)>> listeners_;
    std::vector<std::shared_ptr<EventSubscription::Queue>> queues_;
    std::size_t listener_failures_ = 0;
};

}  // namespace reins::supervisor
