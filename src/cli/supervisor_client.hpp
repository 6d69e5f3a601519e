// The CLI side of the control socket: one request at a time, each on its
// own short-lived Loop, and the shared reporting of action replies.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/cli.hpp"
#include "reins/control/control_client.hpp"

namespace reins::cli {

using namespace std::chrono_literals;

/// Sends one request to the supervisor of `state_dir` and waits for the answer.
Result<control::ControlReply> call_supervisor(const std::string& state_dir, std::string method, std::string path,
                                              nlohmann::json body = nullptr,
                                              std::chrono::milliseconds timeout = 10s);

/// "no supervisor running on DIR" + hint, exit 1.
int say_not_running(const std::string& state_dir, Output& out);

/// The exit code of an API error kind (docs/cli.md, Exit codes):
/// not_found/not_running 1, port_in_use 2, anything else 3.
int exit_for_kind(const std::string& kind);

/// Reports a start/restart reply: one ready line (a started line for a
/// service without readiness check, or "already running") per service asked for, or the error with the service's last output.
/// Returns the exit code.
int report_started(const control::ControlReply& reply, Output& out, double seconds);

/// Reports an error reply ({"ok":false,"error":{...}}); returns the exit code.
int report_error(const control::ControlReply& reply, Output& out);

/// Seconds since `t`.
double seconds_since(std::chrono::steady_clock::time_point t);

}  // namespace reins::cli
