// EventBus: a listener that throws does not unwind the publisher (a service's
// actor in the middle of a transition) and does not keep the event from the
// other listeners and the subscribers.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "reins/supervisor/event_bus.hpp"

using namespace reins::supervisor;

TEST_SUITE("event_bus") {

TEST_CASE("a throwing listener is contained and counted") {
    EventBus bus;
    auto sub = bus.subscribe(1);  // full after one event: the second is counted as lagged
    int before = 0, after = 0;
    bus.add_listener([&](const ServiceEvent&) { ++before; });
    bus.add_listener([](const ServiceEvent& e) { throw std::runtime_error("listener bug on " + e.service); });
    bus.add_listener([&](const ServiceEvent&) { ++after; });
    ServiceEvent e;
    e.service = "web";
    e.to = ServiceState::stopping;
    CHECK_NOTHROW(bus.publish(e));
    CHECK_NOTHROW(bus.publish(e));
    CHECK(before == 2);
    CHECK(after == 2);
    CHECK(bus.listener_failures() == 2);
    CHECK(sub.lagged() == 1);  // the subscriber was reached both times
}

}  // TEST_SUITE
