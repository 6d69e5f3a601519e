#include "reins/control/status_json.hpp"

#include <algorithm>

#include "reins/control/log_writer.hpp"

namespace reins::control {

using nlohmann::json;

json status_to_json(const supervisor::ServiceStatus& s, std::chrono::steady_clock::time_point now) {
    using namespace std::chrono;
    json j;
    j["name"] = s.name;
    j["state"] = std::string(to_string(s.state));
    j["health"] = std::string(to_string(s.health));
    j["pid"] = s.pid;
    j["pid_start_time"] = s.pid_start_time;
    j["port"] = s.port;
    j["restarts"] = s.restarts;
    int64_t uptime = 0;
    if (s.since && s.state == supervisor::ServiceState::running)
        uptime = duration_cast<milliseconds>(now - *s.since).count();
    j["uptime_ms"] = uptime;
    j["last_exit"] = s.last_exit ? json(s.last_exit->describe()) : json(nullptr);
    j["stopped_by"] = std::string(to_string(s.stopped_by));
    j["status_text"] = s.status_text;
    j["instance"] = s.instance;
    j["last_output"] = s.last_output;
    j["ready_checked"] = s.ready_checked;
    if (s.stop_wait) {
        json stop;
        stop["waiting_for"] = s.stop_wait->pid;
        stop["command"] = s.stop_wait->command;
        if (s.stop_wait->kill_at)
            stop["kill_in_ms"] = std::max<int64_t>(0, duration_cast<milliseconds>(*s.stop_wait->kill_at - now).count());
        else
            stop["kill_in_ms"] = nullptr;  // SIGKILL was sent
        j["stop"] = std::move(stop);
    } else {
        j["stop"] = nullptr;
    }
    return j;
}

json event_to_json(const supervisor::ServiceEvent& e) {
    json j;
    j["time"] = iso_now();
    j["service"] = e.service;
    j["from"] = std::string(to_string(e.from));
    j["to"] = std::string(to_string(e.to));
    j["health"] = std::string(to_string(e.health));
    j["reason"] = e.reason;
    j["pid"] = e.pid;
    j["port"] = e.port;
    j["attempt"] = e.attempt;
    j["delay_ms"] = e.delay.count();
    j["failures"] = e.failures;
    j["status_text"] = e.status_text;
    return j;
}

std::string iso_now() { return LogWriter::timestamp(std::chrono::system_clock::now()); }

}  // namespace reins::control
