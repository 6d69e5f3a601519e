// What a stop that takes long says: once a stop has waited 2 s for the
// processes of a service to exit, which pid and command it waits for and
// what comes next —
//
//   reins: waiting for pid 4242 (node server.js) to exit; SIGKILL in 8s
//
// read from the services' status (the engine's stop escalation keeps it
// there while it waits). On a terminal it is one line, refreshed in place
// every second; otherwise it is printed once. `reins stop` asks the
// supervisor for it on a second connection while its stop request is
// outstanding; `reins run` reads it in-process (run.cpp).
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/cli.hpp"
#include "reins/control/control_client.hpp"

namespace reins::cli {

/// After this long a stop says what it waits for.
inline constexpr std::chrono::seconds stop_quiet_time{2};

/// The line for the services of a status document (its "services" array,
/// or the array itself) whose stop waits for a process; "" when none does.
std::string stop_wait_text(const nlohmann::json& services);

/// The line on stderr ("reins: " + text): on a terminal one line replaced
/// in place; otherwise only the first text is printed.
class StopWaitLine {
public:
    explicit StopWaitLine(bool tty) : tty_(tty) {}
    ~StopWaitLine() { clear(); }
    StopWaitLine(const StopWaitLine&) = delete;
    StopWaitLine& operator=(const StopWaitLine&) = delete;

    /// Shows `text` ("" clears the line on a terminal).
    void show(const std::string& text);
    /// Removes the line from a terminal (before other output).
    void clear();
    /// Nothing more will be printed (not a terminal, and printed once).
    bool done() const noexcept { return !tty_ && printed_; }

private:
    bool tty_;
    bool printed_ = false;
    bool shown_ = false;  // a terminal line waiting to be replaced
};

/// call_supervisor for a request that stops services (POST /v1/stop,
/// /v1/shutdown): while it is outstanding, after stop_quiet_time, says on
/// stderr what the stop waits for (see above).
Result<control::ControlReply> call_supervisor_stopping(const std::string& state_dir, std::string method,
                                                       std::string path, nlohmann::json body,
                                                       std::chrono::milliseconds timeout);

}  // namespace reins::cli
