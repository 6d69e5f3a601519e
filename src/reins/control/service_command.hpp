// ServiceCommand: start / stop / restart of named services (empty: all) and
// the report a person gets back — the same whether it travels as a control
// API reply, a `reins` exit code or an embedding host's outcome.
#pragma once

#include <stop_token>
#include <string>
#include <vector>

#include "reins/async/task.hpp"
#include "reins/supervisor/supervisor.hpp"

namespace reins::control {

enum class CommandAction { start, stop, restart };

/// What a command ended with.
struct CommandReport {
    bool ok = true;
    /// On failure: not_found, not_running, port_in_use, startup_timeout, spawn_failed, failed.
    std::string kind;
    std::string service;  ///< the service the failure is about ("" when none stands out)
    std::string message;  ///< what happened, naming the service, port or pid
    std::string hint;     ///< what to do next
    std::vector<std::string> last_output;      ///< the failed service's last lines
    std::vector<std::string> asked;            ///< the services the command was about
    std::vector<std::string> already_running;  ///< start: those that were running before

    /// The exit code `reins` gives for it: 0 ok, 1 not found / not running,
    /// 2 a port in use, 3 anything else.
    int exit_code() const noexcept;
};

/// The kind of a failure (see CommandReport::kind).
std::string error_kind(const Error& e);

/// Carries out `action` on `names` (empty: all). An unknown name changes
/// nothing (not_found, listing the known ones); a stop of a named service
/// that is not running stops the others and reports it (not_running).
Task<CommandReport> run_service_command(supervisor::Supervisor& sup, CommandAction action,
                                        std::vector<std::string> names, std::stop_token stop);

}  // namespace reins::control
