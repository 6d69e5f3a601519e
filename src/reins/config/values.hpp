// The text forms of the other setting values, shared by reins.toml and the
// CLI flags (docs/config.md, docs/cli.md): signals, restart policies, HTTP stop requests,
// probe targets, readiness regexes, and the --ready / --health / --env flags.
//
// Like units.hpp, a failure is an Errc::config Error whose context is a
// sentence without the setting's name, for the caller to prefix.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "reins/async/result.hpp"
#include "reins/supervisor/service_spec.hpp"

namespace reins::config {

/// "TERM", "SIGTERM", "term" or a number 1-64 → the signal number.
Result<int> parse_signal(std::string_view text);
/// "TERM" for SIGTERM; the number for a signal without a common name.
std::string signal_name(int sig);

/// "no", "on-failure" or "always".
Result<supervisor::RestartMode> parse_restart_mode(std::string_view text);
/// "no", "on-failure" or "always".
std::string_view to_string(supervisor::RestartMode mode) noexcept;

/// "POST /admin/shutdown", "GET http://127.0.0.1:9000/x", or just a target
/// ("/admin/shutdown": POST).
Result<supervisor::HttpAction> parse_http_action(std::string_view text);
/// "POST /admin/shutdown".
std::string to_string(const supervisor::HttpAction& action);

/// An http probe or request target: a path ("/ready") or a full http:// URL
/// whose host is numeric or localhost; "$PORT" / "${PORT}" may stand for the port.
Result<void> check_http_target(std::string_view target);
/// True when the target is a path (it then needs the service's port).
bool is_path_target(std::string_view target) noexcept;

/// A readiness regex (RE2 syntax, supervisor/log_pattern.hpp): refuses a
/// pattern that is too long or that RE2 cannot compile, with RE2's reason.
Result<void> check_regex(std::string_view pattern);

/// A probe as the CLI flags write it.
struct ProbeChoice {
    supervisor::ProbeKind kind = supervisor::ProbeKind::none;
    std::string target;  ///< http path/URL, exec command or log regex
};

/// --ready: "tcp", "http:/PATH" (or "http:URL"), "notify", "log:REGEX", "exec:CMD", "none".
Result<ProbeChoice> parse_ready_flag(std::string_view text);
/// --health: "tcp", "http:/PATH", "exec:CMD", "none".
Result<ProbeChoice> parse_health_flag(std::string_view text);

/// --env: "KEY=VALUE" (the value may be empty or contain '=').
Result<std::pair<std::string, std::string>> parse_env_assignment(std::string_view text);

}  // namespace reins::config
