#include "reins/supervisor/restart_policy.hpp"

#include <algorithm>
#include <cmath>

namespace reins::supervisor {

RestartPolicy::RestartPolicy(RestartSpec spec, uint64_t seed) : spec_(std::move(spec)), rng_(seed) {}

double RestartPolicy::next_unit() {
    uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
}

bool RestartPolicy::is_failure(const Ending& e) const {
    if (e.kind == EndKind::announced_stop) return false;
    if (e.kind != EndKind::exited) return true;
    if (e.signal != 0) return true;
    return std::find(spec_.success_codes.begin(), spec_.success_codes.end(), e.code) == spec_.success_codes.end();
}

int RestartPolicy::restarts_in_window(Clock::time_point now) {
    while (!restarts_.empty() && now - restarts_.front() >= spec_.window) restarts_.pop_front();
    return static_cast<int>(restarts_.size());
}

Millis RestartPolicy::base_delay(int n) const {
    double d = static_cast<double>(spec_.initial.count()) * std::pow(spec_.multiplier, std::max(n - 1, 0));
    double cap = static_cast<double>(spec_.max_delay.count());
    return Millis(static_cast<Millis::rep>(std::min(d, cap)));
}

RestartDecision RestartPolicy::decide(const Ending& e, Clock::time_point now) {
    RestartDecision d;
    if (e.kind == EndKind::announced_stop) return d;  // not even under `always`
    bool restart = spec_.mode == RestartMode::always || (spec_.mode == RestartMode::on_failure && is_failure(e));
    if (!restart) return d;
    int n = restarts_in_window(now) + 1;
    if (n > spec_.max_restarts) {
        d.action = RestartDecision::Action::give_up;
        d.attempt = n;
        return d;
    }
    restarts_.push_back(now);
    double factor = 1.0;
    if (spec_.jitter > 0) {
        factor = 1.0 - spec_.jitter + 2.0 * spec_.jitter * next_unit();
    }
    d.action = RestartDecision::Action::restart;
    d.attempt = n;
    d.delay = Millis(static_cast<Millis::rep>(std::llround(static_cast<double>(base_delay(n).count()) * factor)));
    return d;
}

}  // namespace reins::supervisor
