// The JSON shape of a service's status, shared by the control API
// (`GET /v1/status`, action replies), state.json and `reins status --json`.
//
//   {"name":"api","state":"running","health":"unknown","pid":812,
//    "pid_start_time":123456,"port":8000,"restarts":0,"uptime_ms":5230,
//    "last_exit":"exit 1","stopped_by":"signal","status_text":"",
//    "instance":"api-1f2e","last_output":[...],
//    "ready_checked":true,            // false: running means spawned (no readiness check)
//    "stop":null}                     // while a stop waits: {"waiting_for":812,
//                                     //  "command":"node server.js","kill_in_ms":7400}
//                                     //  (kill_in_ms null once SIGKILL was sent)
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "reins/supervisor/service_state.hpp"

namespace reins::control {

/// `s` as JSON; uptime counted to `now` (0 unless running).
nlohmann::json status_to_json(const supervisor::ServiceStatus& s,
                              std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

/// A transition as one JSON object (the lines of `GET /v1/events`).
nlohmann::json event_to_json(const supervisor::ServiceEvent& e);

/// "2026-11-22T10:15:03.123Z" for now.
std::string iso_now();

}  // namespace reins::control
