// StatePaths: where the files of one state directory live (docs/cli.md, The state directory).
//
//   .reins/                 0700
//     reins.lock            flock'ed by the living supervisor, JSON, 0600
//     reins.pid             the supervisor's pid
//     reins.sock            control API (Unix socket, 0600)
//     state.json            snapshot of every service, rewritten atomically
//     pids/NAME.pid         each running service's main pid
//     logs/NAME.log         each service's output (rotated: NAME.log.1 ...)
//     logs/reins.log        the supervisor's own events
//     notify/NAME.sock      sd_notify sockets
#pragma once

#include <string>

namespace reins::control {

struct StatePaths {
    std::string dir;  ///< absolute, no trailing slash

    std::string lock() const { return dir + "/reins.lock"; }
    std::string pid() const { return dir + "/reins.pid"; }
    std::string sock() const { return dir + "/reins.sock"; }
    std::string state() const { return dir + "/state.json"; }
    std::string pids() const { return dir + "/pids"; }
    std::string logs() const { return dir + "/logs"; }
    std::string notify() const { return dir + "/notify"; }
    std::string pid_file(const std::string& service) const { return pids() + "/" + service + ".pid"; }
    /// A service's log: `file` as configured (relative to the state dir;
    /// empty: logs/NAME.log).
    std::string log_file(const std::string& service, const std::string& file = {}) const {
        if (file.empty()) return logs() + "/" + service + ".log";
        if (file.front() == '/') return file;
        return dir + "/" + file;
    }
    std::string supervisor_log() const { return logs() + "/reins.log"; }
};

}  // namespace reins::control
