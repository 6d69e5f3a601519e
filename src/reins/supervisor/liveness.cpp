// The liveness tasks of an Instance, once it runs: the health probe and the
// sd_notify watchdog.
#include <algorithm>

#include "reins/async/duration_text.hpp"
#include "reins/async/timer.hpp"
#include "reins/async/when.hpp"
#include "reins/supervisor/instance.hpp"

namespace reins::supervisor {

Task<void> Instance::liveness(std::stop_token stop) {
    const HealthSpec& h = spec_.health;
    ProbeTarget target = probe_target(h.kind, h.target);
    Timer timer;
    int failures = 0;
    bool healthy_reported = false;
    for (;;) {
        auto slept = co_await timer.wait(h.interval, stop);
        if (!slept) co_return;
        auto ok = co_await probe_once(target, h.timeout, stop);
        if (stop.stop_requested()) co_return;
        InstanceEvent::Kind kind;
        std::string detail;
        if (ok) {
            failures = 0;
            if (healthy_reported) continue;
            healthy_reported = true;
            kind = InstanceEvent::Kind::healthy;
            detail = describe(target);
        } else {
            healthy_reported = false;
            ++failures;
            bool over = failures >= std::max(h.failures, 1);
            kind = over ? InstanceEvent::Kind::unhealthy : InstanceEvent::Kind::probe_failed;
            detail = ok.error().message() + " (" + std::to_string(failures) + "/" + std::to_string(h.failures) + ")";
            if (over) failures = 0;
        }
        auto sent = co_await report(kind, std::move(detail));
        if (!sent) co_return;
    }
}

Task<void> Instance::watchdog(std::stop_token stop) {
    // Like systemd: one missed WATCHDOG=1 deadline makes the service unhealthy.
    const Millis deadline = spec_.health.watchdog;
    for (;;) {
        auto ping = [this](std::stop_token s) { return watchdog_.recv(std::move(s)); };
        auto got = co_await with_timeout(deadline, stop, ping);
        if (got) continue;
        if (!got.error().is(Errc::timeout)) co_return;
        auto sent = co_await report(InstanceEvent::Kind::unhealthy, "no WATCHDOG=1 within " + human_duration(deadline));
        if (!sent) co_return;
    }
}

}  // namespace reins::supervisor
