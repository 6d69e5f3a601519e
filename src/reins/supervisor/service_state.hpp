// The states of a service (docs/engine.md, States and their edges), its health, its transitions as events,
// and the status snapshot that `status` and the control API show.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reins::supervisor {

/// stopped → starting → running → stopping → stopped; restarting
/// between a failure and the next start; failed when the circuit opens.
enum class ServiceState { stopped, starting, running, stopping, restarting, failed };

/// Liveness, separate from the state (unknown until a health probe ran).
enum class Health { unknown, healthy, unhealthy };

/// Which stop step ended a stop (docs/config.md, `stop`; status shows it).
enum class StopStep { none, exited_by_itself, http, signal, kill };

std::string_view to_string(ServiceState s) noexcept;
/// A run is under way or pending: starting, running, restarting or stopping.
constexpr bool is_active(ServiceState s) noexcept {
    return s == ServiceState::starting || s == ServiceState::running || s == ServiceState::restarting ||
           s == ServiceState::stopping;
}
std::string_view to_string(Health h) noexcept;
std::string_view to_string(StopStep s) noexcept;

/// How the last run of a service ended.
struct LastExit {
    int64_t code = 0;
    int signal = 0;  ///< 0: exited normally
    /// "exit 3", "signal 9 (SIGKILL)".
    std::string describe() const;
};

/// One transition, delivered to subscribers, logged, reflected in state.json.
struct ServiceEvent {
    std::string service;
    ServiceState from = ServiceState::stopped;
    ServiceState to = ServiceState::stopped;
    Health health = Health::unknown;
    std::string reason;                         ///< "ready (tcp 127.0.0.1:8000)", "exit 3", "stop requested"
    std::chrono::steady_clock::time_point time;  ///< monotonic
    int pid = 0;                                ///< the main pid at the time (0: none)
    int port = 0;                               ///< the service's port at the time (0: none)
    /// A transition to `restarting`, or the `starting` that follows its
    /// backoff: which restart this is within the window, from 1; else 0.
    int attempt = 0;
    /// A transition to `restarting`: the backoff before the next start.
    std::chrono::milliseconds delay{0};
    /// The endings counted toward the circuit breaker at the time (the
    /// restarts within restart.window, and the one that opened it).
    int failures = 0;
    /// The sd_notify STATUS= text when the event is about it, or why the
    /// service failed (restarting, failed, unhealthy); else empty.
    std::string status_text;
};

/// While a stop waits for a process of the service to exit: which one, and
/// when the stop escalates to SIGKILL (a stop that takes long says so).
struct StopWait {
    int pid = 0;          ///< the process waited for: the main one while it lives, else a survivor
    std::string command;  ///< its command line ("node server.js")
    /// When SIGKILL is due; nullopt once it was sent.
    std::optional<std::chrono::steady_clock::time_point> kill_at;
};

/// What `status` shows of one service.
struct ServiceStatus {
    std::string name;
    ServiceState state = ServiceState::stopped;
    Health health = Health::unknown;
    int pid = 0;
    uint64_t pid_start_time = 0;  ///< /proc/PID/stat field 22, to trust the pid later
    int port = 0;                 ///< 0: none
    int restarts = 0;             ///< restarts since the last manual start
    std::optional<std::chrono::steady_clock::time_point> since;  ///< when it became running
    std::optional<LastExit> last_exit;
    StopStep stopped_by = StopStep::none;
    std::string status_text;          ///< sd_notify STATUS=…, or why it failed
    std::string instance;             ///< REINS_INSTANCE of the current run
    std::vector<std::string> last_output;  ///< the last lines, shown when it failed
    /// Set while a stop waits for processes to exit, cleared when it ends.
    std::optional<StopWait> stop_wait;
    /// Readiness is checked (a probe, or ready.after); false: running once spawned.
    bool ready_checked = false;
    /// The current (or last) stop was asked for — by a command, a signal to
    /// the supervisor, its shutdown — rather than the run ending by itself.
    bool stop_requested = false;
};

}  // namespace reins::supervisor
