// The files of a state directory that describe services (docs/cli.md, The
// state directory):
// state.json, a snapshot of every service rewritten on each transition, and
// pids/NAME.pid. Both are written atomically (temp file + rename), so a
// reader sees the old content or the new one, never a torn one.
//
// state.json is what lets the next `reins status` / `reins stop` find the
// processes left behind by a supervisor that was SIGKILLed:
//
//   {"version": 1,
//    "supervisor": {"pid": 812, "start_time": 123, "started_at": "...", "version": "0.1.0"},
//    "config": "/abs/reins.toml",
//    "services": [{"name": "web", "state": "running", "health": "healthy",
//                  "pid": 4242, "pid_start_time": 456, "port": 5173, "restarts": 0,
//                  "instance": "...", "since": "...", "last_exit": "", "status_text": ""}]}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "reins/async/result.hpp"
#include "reins/control/state_paths.hpp"
#include "reins/control/supervisor_lock.hpp"

namespace reins::control {

/// The "version" of the state.json layout written by this build.
inline constexpr int state_file_version = 1;

/// Writes `text` to `path` atomically: a temp file in the same folder
/// (O_CLOEXEC, `mode`), write, rename over `path`. No fsync: state.json is
/// rewritten on every transition, the rename already rules out a torn file,
/// and after a power loss the supervisor is gone anyway. Errors name the path.
Result<void> write_file_atomic(const std::string& path, std::string_view text, unsigned mode = 0600);

/// Writes pids/NAME.pid ("PID\n", atomically; creates pids/).
Result<void> write_pid_file(const StatePaths& paths, const std::string& service, int pid);
/// Removes pids/NAME.pid; a missing file is not an error.
void remove_pid_file(const StatePaths& paths, const std::string& service);

/// One service as state.json records it: what status shows, and what is
/// needed to find its processes after the supervisor died.
struct ServiceRecord {
    std::string name;
    std::string state;        ///< "running", "stopped", ... (docs/engine.md, States)
    std::string health;       ///< "healthy", "unhealthy", "unknown", or ""
    int pid = 0;              ///< main pid, 0 when none
    uint64_t pid_start_time = 0;  ///< start time of `pid`: without it the pid is not trusted
    int port = 0;
    int restarts = 0;
    std::string instance;     ///< REINS_INSTANCE of the current run
    std::string since;        ///< ISO time it became running, or ""
    std::string last_exit;    ///< "exit 3", "signal 9", or ""
    std::string status_text;  ///< the last sd_notify STATUS=
};

/// The whole of state.json.
struct StateSnapshot {
    LockInfo supervisor;  ///< the supervisor that wrote it
    std::string config;   ///< absolute path of the config file, or ""
    std::vector<ServiceRecord> services;
};

/// The JSON of a LockInfo: {pid, start_time, started_at, version, data}
/// ("data" only when not empty).
nlohmann::json to_json(const LockInfo& info);
/// A LockInfo from JSON: missing fields keep their defaults, a field of the
/// wrong type is an error naming the field.
Result<LockInfo> lock_info_from_json(const nlohmann::json& j);

/// The JSON of a snapshot (layout at the top of this header).
nlohmann::json to_json(const StateSnapshot& snap);
/// A snapshot from JSON: tolerant of missing fields (older or newer
/// writers), strict on types (an error naming the field).
Result<StateSnapshot> state_from_json(const nlohmann::json& j);

/// Writes state.json (atomically, 0600).
Result<void> write_state(const StatePaths& paths, const StateSnapshot& snap);
/// Reads state.json. No file: an error whose code compares equal to
/// std::errc::no_such_file_or_directory; unparsable: an error naming the path.
Result<StateSnapshot> read_state(const StatePaths& paths);

}  // namespace reins::control
