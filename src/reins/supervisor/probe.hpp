// Probes: one check of a service, as an error value (docs/config.md, `ready` and `health`).
#pragma once

#include <stop_token>
#include <string>
#include <vector>

#include "reins/async/result.hpp"
#include "reins/async/task.hpp"
#include "reins/supervisor/restart_policy.hpp"
#include "reins/supervisor/service_spec.hpp"

namespace reins::supervisor {

/// What one probe checks, resolved for one run of a service (port known).
struct ProbeTarget {
    ProbeKind kind = ProbeKind::none;
    std::string host = "127.0.0.1";
    int port = 0;
    std::string target;             ///< http path or URL; exec command
    std::vector<std::string> env;   ///< exec: the service's environment ("K=V")
    std::string cwd;                ///< exec: the service's folder
};

/// Runs one tcp, http or exec probe, bounded by `timeout`. Success is a
/// connection (tcp), a 200-399 status (http), exit 0 (exec); the error says
/// what failed ("tcp 127.0.0.1:8000: connection refused (ECONNREFUSED)").
/// An exec probe still running at the deadline is killed with its group.
Task<Result<void>> probe_once(ProbeTarget t, Millis timeout, std::stop_token stop);

/// Sends `method` to the http target of `t` (a path on its port, or a full
/// URL); success is a 2xx answer within `timeout`.
Task<Result<void>> http_action(ProbeTarget t, std::string method, Millis timeout, std::stop_token stop);

/// "tcp 127.0.0.1:8000", "http http://127.0.0.1:8000/ready", "exec ./check.sh".
std::string describe(const ProbeTarget& t);

/// How long a readiness wait sleeps before the next probe: a sixteenth of the
/// time since the first probe, at least `first` (ready.interval), at most
/// `most`. A service that listens at once is seen within a millisecond or
/// two, one ready after 1.5 s within ~94 ms of it, and one that takes
/// minutes is probed once a second: about 160 probes in the first 16 s,
/// not thousands. (Doubling from 10 ms saw a service ready at 1.5 s only at
/// 2.28 s.)
Millis readiness_probe_wait(Millis since_first, Millis first, Millis most) noexcept;

}  // namespace reins::supervisor
