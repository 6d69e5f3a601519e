// reins status [SERVICE...] [--json] [--lsb]: what is running (docs/cli.md).
// Without a living supervisor it reads state.json: a supervisor that was
// killed is reported with the service processes that survived it.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/supervisor_client.hpp"
#include "reins/control/state_file.hpp"
#include "reins/control/supervisor_lock.hpp"
#include "reins/control/survivors.hpp"
#include "reins/http/json_text.hpp"

namespace reins::cli {

using nlohmann::json;

namespace {

// LSB status codes (docs/cli.md, Exit codes).
constexpr int lsb_running = 0, lsb_failed = 1, lsb_not_running = 3, lsb_unknown = 4;

std::string duration_text(int64_t ms) {
    int64_t s = ms / 1000;
    if (s < 60) return std::to_string(s) + "s";
    if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
    if (s < 86400) return std::to_string(s / 3600) + "h" + std::to_string(s / 60 % 60) + "m";
    return std::to_string(s / 86400) + "d" + std::to_string(s / 3600 % 24) + "h";
}

// The STATUS column: the service's own text, and a log that cannot be written.
std::string status_column(const json& s) {
    std::string text = s.value("status_text", "");
    std::string stalled = s.value("logs_stalled", "");
    if (stalled.empty()) return text;
    return (text.empty() ? "" : text + "; ") + "logs stalled: " + stalled;
}

std::string table(const std::vector<json>& services) {
    std::vector<std::vector<std::string>> rows{
        {"SERVICE", "STATE", "HEALTH", "PID", "PORT", "UPTIME", "RESTARTS", "LAST EXIT", "STATUS"}};
    for (const auto& s : services) {
        int pid = s.value("pid", 0), port = s.value("port", 0);
        std::string state = s.value("state", "?");
        rows.push_back({s.value("name", "?"), state, s.value("health", "unknown"), pid ? std::to_string(pid) : "-",
                        port ? std::to_string(port) : "-",
                        state == "running" ? duration_text(s.value("uptime_ms", int64_t{0})) : "-",
                        std::to_string(s.value("restarts", 0)),
                        s["last_exit"].is_string() ? s["last_exit"].get<std::string>() : "-",
                        status_column(s)});
    }
    std::vector<std::size_t> width(rows[0].size(), 0);
    for (const auto& r : rows)
        for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
    std::string out;
    for (const auto& r : rows) {
        std::string line;
        for (std::size_t i = 0; i < r.size(); ++i) {
            line += r[i];
            if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
    }
    return out;
}

/// No supervisor answers: report a killed one and its survivors (exit 1).
int report_dead(const Args& args, const Place& place, Output& out) {
    const bool lsb = args.has("lsb");
    control::StatePaths paths{place.state_dir};
    auto snap = control::read_state(paths);
    auto lock = control::inspect_lock(paths);
    std::vector<control::Survivor> survivors;
    if (!lock.held) survivors = control::find_survivors(paths);
    if (args.has("json")) {
        json j;
        j["supervisor"] = nullptr;
        j["state_dir"] = place.state_dir;
        j["survivors"] = json::array();
        for (const auto& s : survivors)
            j["survivors"].push_back({{"service", s.service}, {"pid", s.process.pid}, {"command", s.command}});
        out.data(http::json_text(j, 2) + "\n");
    }
    if (lock.held) {
        int pid = lock.info ? lock.info->pid : 0;
        out.error("the supervisor (pid " + std::to_string(pid) + ") holds " + paths.lock() +
                      " but does not answer on " + paths.sock(),
                  "it may be starting or stuck; see " + paths.supervisor_log());
        return lsb ? lsb_not_running : int(exit_failure);
    }
    if (!survivors.empty()) {
        int pid = lock.info ? lock.info->pid : snap ? snap->supervisor.pid : 0;
        out.error("the supervisor (pid " + std::to_string(pid) + ") is gone (killed?) and " +
                      std::to_string(survivors.size()) + " of its service processes survived it:",
                  "");
        for (const auto& s : survivors)
            out.say("  " + s.service + ": pid " + std::to_string(s.process.pid) + " (" + s.command + ")");
        out.say("stop them with: reins stop");
        return lsb ? lsb_not_running : int(exit_not_found);
    }
    if (!args.has("json")) say_not_running(place.state_dir, out);
    return lsb ? lsb_not_running : int(exit_not_found);
}

}  // namespace

int run_status(const Args& args, Output& out) {
    if (args.dashdash) {
        out.error("reins status takes service names, not a command", "see: reins status --help");
        return exit_failure;
    }
    auto place = find_place(args, out, false);
    if (!place) return exit_failure;
    const bool lsb = args.has("lsb");
    auto reply = call_supervisor(place->state_dir, "GET", "/v1/status", nullptr, 5s);
    if (!reply) {
        if (control::is_not_running(reply.error())) return report_dead(args, *place, out);
        out.error("cannot ask the supervisor on " + place->state_dir + ": " + reply.error().message(),
                  "see " + control::StatePaths{place->state_dir}.supervisor_log());
        return lsb ? lsb_not_running : int(exit_failure);
    }
    const json& body = reply->body;
    if (reply->status != 200 || !body.is_object()) return report_error(*reply, out);
    std::vector<json> shown;
    int code = exit_ok, lsb_code = lsb_running;
    bool unknown = false, failed = false, stopped = false;
    for (const auto& name : args.positional) {
        bool found = false;
        for (const auto& s : body["services"])
            if (s.value("name", "") == name) found = true;
        if (!found) {
            out.error("no service called '" + name + "'", "reins status lists every service");
            unknown = true;
        }
    }
    for (const auto& s : body["services"]) {
        std::string name = s.value("name", "");
        if (!args.positional.empty() &&
            std::find(args.positional.begin(), args.positional.end(), name) == args.positional.end())
            continue;
        shown.push_back(s);
        std::string state = s.value("state", "");
        if (state == "failed") failed = true;
        else if (state != "running") stopped = true;
    }
    if (unknown || stopped) code = exit_not_found;
    if (failed) code = exit_failure;  // the circuit breaker is open
    // LSB: the first that applies of 4, 1, 3, 0.
    lsb_code = unknown ? lsb_unknown : failed ? lsb_failed : stopped ? lsb_not_running : lsb_running;
    for (const auto& sv : shown) {
        if (sv.value("state", "") != "failed" || args.has("json")) continue;
        std::string name = sv.value("name", "?");
        std::string last = sv["last_exit"].is_string() ? sv["last_exit"].get<std::string>() : "unknown";
        out.say(name + " failed (last exit: " + last + ")" +
                (sv.value("status_text", "").empty() ? "" : ": " + sv.value("status_text", "")));
        for (const auto& l : sv.value("last_output", std::vector<std::string>{})) out.say("  " + name + " | " + l);
        out.say("restart it with: reins restart " + name);
    }
    if (args.has("json")) {
        json j = body;
        if (!args.positional.empty()) j["services"] = shown;
        out.data(http::json_text(j, 2) + "\n");
    } else {
        out.data(table(shown));
    }
    return lsb ? lsb_code : code;
}

}  // namespace reins::cli
