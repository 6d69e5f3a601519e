#include "reins/supervisor/event_bus.hpp"

#include <algorithm>

namespace reins::supervisor {

EventSubscription::~EventSubscription() {
    if (q_ && q_->bus) q_->bus->unsubscribe(q_.get());
}

EventBus::~EventBus() {
    for (auto& q : queues_) {
        q->bus = nullptr;
        q->events.close();  // subscribers drain, then see channel_closed
    }
}

EventSubscription EventBus::subscribe(std::size_t capacity) {
    auto q = std::make_shared<EventSubscription::Queue>(this, std::max<std::size_t>(capacity, 1));
    queues_.push_back(q);
    return EventSubscription(std::move(q));
}

void EventBus::publish(const ServiceEvent& e) {
    for (auto& fn : listeners_) {
        try {
            fn(e);
        } catch (...) {
            ++listener_failures_;
        }
    }
    for (auto& q : queues_) {
        if (q->events.try_send(e)) continue;
        (void)q->events.try_recv();  // full: drop the oldest, never wait
        ++q->lagged;
        (void)q->events.try_send(e);
    }
}

void EventBus::unsubscribe(EventSubscription::Queue* q) noexcept {
    std::erase_if(queues_, [q](const auto& p) { return p.get() == q; });
}

}  // namespace reins::supervisor
