// ControlApi: the routes of the control socket (docs/cli.md, Control API) over a running
// Supervisor. The CLI is a client of exactly these routes.
//
//   GET  /v1/status                          supervisor and every service
//   POST /v1/services/NAME/start|stop|restart act; reply when done
//   POST /v1/start|stop|restart               the same for {"services":[...]} ([] = all)
//   POST /v1/services                        add a service from CLI flags (start --name X -- CMD)
//   POST /v1/shutdown                        stop everything, reply, then exit
//   GET  /v1/events                          chunked JSON lines, one per transition
//   GET  /v1/logs/NAME?n=100&follow=1        log lines, optionally followed
//
// Action replies: 200 {"ok":true,"services":[...],"already_running":[...]}
// or {"ok":false,"error":{"kind","service","message","hint","last_output"}}
// with 404 (kind not_found), 409 (not_running), 400 (bad_request), 503
// (shutting_down) or 500 (port_in_use, startup_timeout, spawn_failed, failed).
// A body field of the wrong type or an unknown field is a 400 naming the
// field, and nothing changes.
#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "reins/control/service_command.hpp"
#include "reins/control/log_writer.hpp"
#include "reins/http/router.hpp"
#include "reins/supervisor/supervisor.hpp"

namespace reins::control {

/// What the API tells about the supervisor itself.
struct ControlInfo {
    std::string version;
    int pid = 0;
    std::string state_dir;
    std::string config;  ///< absolute path, "" for none
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

/// What the API asks of the process that hosts it.
struct ControlHooks {
    /// Stop everything and exit (called after /v1/shutdown has stopped the services).
    std::function<void()> shutdown;
    /// Adds a service described by CLI flags ({"command":[...],"flags":{...}}).
    std::function<Result<std::string>(const nlohmann::json&)> add_service;
    /// Where a service's log is (for /v1/logs).
    std::function<LogTarget(const std::string&)> log_of;
    /// After a start that failed, when no other action request is in flight
    /// and no service added by POST /v1/services waits for its start (the
    /// host may exit when nothing runs any more and idle_for() holds).
    std::function<void()> after_failed_start;
    /// Why a service's log cannot be written now ("" while it can).
    std::function<std::string(const std::string&)> log_stalled;
    /// True once the host is shutting down: adds and starts answer 503.
    std::function<bool()> closing;
    /// Every request, as it arrives (the host counts it as activity).
    std::function<void()> on_request;
};

class ControlApi {
public:
    ControlApi(supervisor::Supervisor& sup, ControlInfo info, ControlHooks hooks);
    ControlApi(const ControlApi&) = delete;
    ControlApi& operator=(const ControlApi&) = delete;

    /// The routes, bound to this object (which must outlive the server).
    http::Router router();

    /// The body of GET /v1/status.
    nlohmann::json status() const;

    enum class Action { start, stop, restart };
    /// Carries out `action` on `names` (empty: all) and builds the reply.
    Task<http::Response> act(Action action, std::vector<std::string> names, std::stop_token stop);

    supervisor::Supervisor& supervisor() noexcept { return sup_; }
    const ControlHooks& hooks() const noexcept { return hooks_; }

    /// POST /v1/services: adds the service a validated body describes.
    http::Response add(const nlohmann::json& body);

    /// True when no action is under way, no service added by POST
    /// /v1/services waits for its start, and no request came for `quiet`
    /// (a client that just saw us answer may be about to ask for more).
    bool idle_for(std::chrono::milliseconds quiet) const;

private:
    supervisor::Supervisor& sup_;
    ControlInfo info_;
    ControlHooks hooks_;
    int in_flight_ = 0;                ///< act() calls under way
    std::chrono::steady_clock::time_point last_request_ = std::chrono::steady_clock::now();
    std::set<std::string> unstarted_;  ///< added by POST /v1/services, no start asked for yet
};

/// An error reply: {"ok":false,"error":{"kind","message","hint"}}.
http::Response error_reply(int status, std::string kind, std::string message, std::string hint = {});

/// Nothing when the {name} of a /v1/services/NAME/... or /v1/logs/NAME path
/// is a valid service name; else the error to answer with 400.
Result<void> name_in_path(const http::Request& req);

/// GET /v1/logs/NAME (defined in control_logs.cpp).
Task<void> serve_logs(ControlApi* api, http::Request req, http::ResponseStream out, std::stop_token stop);

}  // namespace reins::control
