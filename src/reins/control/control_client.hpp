// The client side of the control API (docs/cli.md, Control API): one request over
// reins.sock, JSON in and out. The CLI's commands are built on it.
#pragma once

#include <chrono>
#include <stop_token>
#include <string>

#include <nlohmann/json.hpp>

#include "reins/async/result.hpp"
#include "reins/async/task.hpp"
#include "reins/control/state_paths.hpp"

namespace reins::control {

struct ControlReply {
    int status = 0;
    nlohmann::json body;  ///< the parsed JSON body (null when not JSON)
};

/// True when `e` means nobody answers on the socket (no supervisor running:
/// the socket is missing, refuses, or is a stale file).
bool is_not_running(const Error& e);

/// Sends `method path` with `body` (JSON; null: no body) to the supervisor
/// of `paths` and returns its answer. Errors: the transport (see
/// is_not_running), Errc::timeout after `timeout`.
Task<Result<ControlReply>> control_request(StatePaths paths, std::string method, std::string path,
                                           nlohmann::json body, std::chrono::milliseconds timeout,
                                           std::stop_token stop = {});

}  // namespace reins::control
