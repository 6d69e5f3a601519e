// The readiness task of an Instance: when a run counts as running
// (docs/config.md, `ready`).
#include <algorithm>

#include "reins/async/duration_text.hpp"
#include "reins/async/timer.hpp"
#include "reins/async/when.hpp"
#include "reins/supervisor/instance.hpp"

namespace reins::supervisor {

Millis readiness_probe_wait(Millis since_first, Millis first, Millis most) noexcept {
    return std::clamp(since_first / 16, first, std::max(most, first));
}

namespace {

std::string ms(Millis d) { return human_duration(d); }

// Probes until one succeeds, waiting readiness_probe_wait() between probes.
Task<Result<std::string>> probe_until_ready(ProbeTarget t, ReadySpec r, std::stop_token stop) {
    Timer timer;
    const auto began = std::chrono::steady_clock::now();
    const Millis first = std::max(r.interval, Millis(1));
    for (;;) {
        auto ok = co_await probe_once(t, r.probe_timeout, stop);
        if (ok) co_return describe(t);
        if (stop.stop_requested()) co_return fail(Errc::cancelled);
        auto since = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - began);
        auto slept = co_await timer.wait(readiness_probe_wait(since, first, r.max_interval), stop);
        if (!slept) co_return fail(Errc::cancelled);
    }
}

// Waits for something that is not a probe (log line, READY=1): the
// capture or notification task reports ready; this only waits.
Task<Result<std::string>> wait_forever(std::stop_token stop) {
    co_await sleep_until_stopped(std::move(stop));
    co_return fail(Errc::cancelled);
}

}  // namespace

Task<void> Instance::readiness(std::stop_token stop) {
    const ReadySpec& r = spec_.ready;
    if (r.kind == ProbeKind::none) {
        if (r.after.count() == 0) co_return;  // the service counts as running at spawn (Service::active)
        {
            auto waited = co_await sleep(r.after, stop);
            if (!waited) co_return;
        }
        ready_seen_ = true;
        std::string how = "up for " + ms(r.after);
        auto sent = co_await report(InstanceEvent::Kind::ready, how);
        (void)sent;
        co_return;
    }
    bool probing = r.kind == ProbeKind::tcp || r.kind == ProbeKind::http || r.kind == ProbeKind::exec;
    ProbeTarget target = probe_target(r.kind, r.target);
    auto probe = [&](std::stop_token s) -> Task<Result<std::string>> {
        return probing ? probe_until_ready(target, r, std::move(s)) : wait_forever(std::move(s));
    };
    auto res = co_await with_timeout(r.timeout, stop, probe);
    if (res) {
        ready_seen_ = true;
        auto sent = co_await report(InstanceEvent::Kind::ready, *res);
        (void)sent;
    } else if (res.error().is(Errc::timeout) && !ready_seen_) {
        std::string what = probing ? describe(target) : std::string(to_string(r.kind));
        auto sent = co_await report(InstanceEvent::Kind::start_timeout,
                                    "not ready within " + ms(r.timeout) + " (" + what + ")");
        (void)sent;
    }
}

}  // namespace reins::supervisor
