// RestartPolicy: whether a service that ended is started again, and when.
//
// Pure logic (no I/O, no clock of its own), so every rule of
// docs/config.md `restart` is unit-tested exactly: which endings restart
// under no / on-failure / always, the backoff delay
// min(initial × multiplier^(n−1), max) × jitter for the n-th restart inside
// the window, and the circuit breaker (more than `max` restarts inside
// `window` → failed).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <vector>

namespace reins::supervisor {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

/// When a service that ended is started again.
enum class RestartMode { no, on_failure, always };

/// The `restart` settings of a service (defaults of docs/config.md).
struct RestartSpec {
    RestartMode mode = RestartMode::on_failure;
    std::vector<int> success_codes{0};  ///< exit codes that count as a clean exit
    Millis initial{100};                ///< backoff before the first restart
    Millis max_delay{30000};            ///< backoff cap
    double multiplier = 2.0;
    double jitter = 0.1;                ///< in [0, 1]: delay × random factor in [1−j, 1+j]
    int max_restarts = 5;               ///< restarts allowed within `window`; one more → failed
    Millis window{std::chrono::minutes(5)};
};

/// How a run of the service ended.
enum class EndKind {
    exited,        ///< the process exited by itself (code or signal)
    start_failed,  ///< spawn failure, readiness timeout, or exit during startup
    unhealthy,     ///< liveness failures while running
    /// It exited after announcing it (sd_notify STOPPING=1): it meant to
    /// stop, so it is never restarted nor counted as a failure, whatever
    /// its exit status.
    announced_stop,
};

struct Ending {
    EndKind kind = EndKind::exited;
    int64_t code = 0;  ///< exit code when kind == exited
    int signal = 0;    ///< killing signal when kind == exited (0: none)
};

/// What to do after an ending.
struct RestartDecision {
    enum class Action { stay_stopped, restart, give_up } action = Action::stay_stopped;
    Millis delay{0};  ///< before the restart
    int attempt = 0;  ///< n: this restart's number within the window
};

/// Keeps the restart history of one service and decides on each ending.
class RestartPolicy {
public:
    explicit RestartPolicy(RestartSpec spec, uint64_t seed = std::random_device{}());

    /// True if `e` is a failure under this spec (not a clean exit).
    bool is_failure(const Ending& e) const;
    /// Decides what follows ending `e` at time `now`; records the restart.
    RestartDecision decide(const Ending& e, Clock::time_point now);
    /// The delay before restart n (1-based) without jitter.
    Millis base_delay(int n) const;
    /// Forgets the history: a manual restart closes the circuit.
    void reset() { restarts_.clear(); }
    /// Restarts counted inside the window ending at `now`.
    int restarts_in_window(Clock::time_point now);

    const RestartSpec& spec() const { return spec_; }

private:
    RestartSpec spec_;
    std::deque<Clock::time_point> restarts_;
    uint64_t rng_;  // splitmix64 state: 8 bytes, not mt19937's 2.5 KB per service
    double next_unit();  // uniform in [0, 1)
};

}  // namespace reins::supervisor
