#include "cli/supervisor_client.hpp"

#include "cli/console.hpp"
#include "reins/async/loop.hpp"

namespace reins::cli {

using nlohmann::json;

namespace {
Task<Result<control::ControlReply>> one_request(std::string state_dir, std::string method, std::string path,
                                                json body, std::chrono::milliseconds timeout) {
    control::StatePaths paths{state_dir};
    auto r = co_await control::control_request(paths, std::move(method), std::move(path), std::move(body), timeout);
    co_return r;
}
}  // namespace

Result<control::ControlReply> call_supervisor(const std::string& state_dir, std::string method, std::string path,
                                              json body, std::chrono::milliseconds timeout) {
    Loop loop;
    auto r = loop.run(one_request(state_dir, std::move(method), std::move(path), std::move(body), timeout));
    (void)loop.close();
    return r;
}

int say_not_running(const std::string& state_dir, Output& out) {
    out.error("no supervisor is running on " + state_dir, "start one with: reins start (or reins run)");
    return exit_not_found;
}

int exit_for_kind(const std::string& kind) {
    if (kind == "not_found" || kind == "not_running") return exit_not_found;
    if (kind == "port_in_use") return exit_port_in_use;
    return exit_failure;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

int report_error(const control::ControlReply& reply, Output& out) {
    const json& b = reply.body;
    // The HTTP layer's own refusals (503 out of descriptors or connections,
    // 4xx for a bad request) carry a plain message.
    if (b.is_object() && b.contains("error") && b["error"].is_string()) {
        out.error("the supervisor refused the request (" + std::to_string(reply.status) + "): " +
                      b["error"].get<std::string>(),
                  reply.status == 503 ? "try again once it has descriptors or connections to spare" : "");
        return exit_failure;
    }
    if (!b.is_object() || !b.contains("error") || !b["error"].is_object()) {
        out.error("the supervisor answered " + std::to_string(reply.status) + " without an explanation",
                  "see .reins/logs/reins.log");
        return exit_failure;
    }
    const json& e = b["error"];
    std::string kind = e.value("kind", "failed");
    std::string service = e.value("service", "");
    std::string message = e.value("message", "failed");
    if (!service.empty() && message.find(service) == std::string::npos) message = service + ": " + message;
    auto lines = e.value("last_output", std::vector<std::string>{});
    if (!lines.empty()) {
        out.say("last output of " + service + ":");
        std::string text;
        for (const auto& l : lines) text += "  " + service + " | " + l + "\n";
        std::fputs(text.c_str(), stderr);
    }
    out.error(message, e.value("hint", ""));
    return exit_for_kind(kind);
}

int report_started(const control::ControlReply& reply, Output& out, double seconds) {
    const json& b = reply.body;
    if (reply.status != 200 || !b.is_object() || !b.value("ok", false)) return report_error(reply, out);
    auto already = b.value("already_running", std::vector<std::string>{});
    for (const auto& s : b.value("services", json::array())) {
        std::string name = s.value("name", "?");
        int pid = s.value("pid", 0);
        if (std::find(already.begin(), already.end(), name) != already.end()) {
            out.say(name + " already running (pid " + std::to_string(pid) + ")");
            continue;
        }
        std::string state = s.value("state", "");
        if (state == "running" && !s.value("ready_checked", true))
            out.say(Console::started_line(name, s.value("port", 0), pid));
        else if (state == "running")
            out.say(Console::ready_line(name, s.value("port", 0), pid, seconds));
        else out.say(name + " is " + state);
    }
    return exit_ok;
}

}  // namespace reins::cli
