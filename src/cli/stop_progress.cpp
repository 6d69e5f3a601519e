#include "cli/stop_progress.hpp"

#include <unistd.h>

#include <cerrno>
#include <optional>
#include <vector>

#include "reins/async/loop.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/async/timer.hpp"

namespace reins::cli {

using nlohmann::json;

namespace {

void write_err(const std::string& s) {
    const char* p = s.data();
    std::size_t left = s.size();
    while (left > 0) {
        ssize_t n = ::write(STDERR_FILENO, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

// "SIGKILL in 8s" (rounded up: it never comes earlier than said), "SIGKILL sent".
std::string kill_text(const json& kill_in_ms) {
    if (!kill_in_ms.is_number()) return "SIGKILL sent";
    auto ms = kill_in_ms.get<int64_t>();
    if (ms <= 0) return "SIGKILL now";
    return "SIGKILL in " + std::to_string((ms + 999) / 1000) + "s";
}

Task<void> send(std::string state_dir, std::string method, std::string path, json body,
                std::chrono::milliseconds timeout, std::optional<Result<control::ControlReply>>* reply,
                TaskScope* scope) {
    control::StatePaths paths{state_dir};
    auto r = co_await control::control_request(paths, std::move(method), std::move(path), std::move(body), timeout);
    reply->emplace(std::move(r));
    scope->request_stop();  // the stop is over: so is the watching
}

Task<void> watch(std::string state_dir, StopWaitLine* line, std::stop_token stop) {
    control::StatePaths paths{state_dir};
    auto quiet = co_await sleep(stop_quiet_time, stop);
    if (!quiet) co_return;
    for (;;) {
        auto r = co_await control::control_request(paths, "GET", "/v1/status", nullptr, std::chrono::seconds(2), stop);
        if (stop.stop_requested()) co_return;
        if (r && r->status == 200) {
            line->show(stop_wait_text(r->body));
            if (line->done()) co_return;
        }
        auto slept = co_await sleep(std::chrono::seconds(1), stop);
        if (!slept) co_return;
    }
}

Task<Result<control::ControlReply>> stopping(std::string state_dir, std::string method, std::string path, json body,
                                             std::chrono::milliseconds timeout) {
    std::optional<Result<control::ControlReply>> reply;
    StopWaitLine line(::isatty(STDERR_FILENO) == 1);
    {
        TaskScope scope = TaskScope::shielded();
        scope.spawn(send(state_dir, std::move(method), std::move(path), std::move(body), timeout, &reply, &scope));
        scope.spawn(watch(state_dir, &line, scope.token()));
        co_await scope.join();
    }
    line.clear();
    if (!reply) co_return fail(Errc::cancelled, "the stop request did not complete");
    co_return std::move(*reply);
}

}  // namespace

std::string stop_wait_text(const json& doc) {
    const json& services = doc.is_object() ? doc.value("services", json::array()) : doc;
    if (!services.is_array()) return {};
    std::vector<const json*> waiting;
    for (const auto& s : services)
        if (s.is_object() && s.contains("stop") && s["stop"].is_object()) waiting.push_back(&s);
    if (waiting.empty()) return {};
    const json& first = *waiting.front();
    const json& stop = first["stop"];
    std::string text = "waiting for pid " + std::to_string(stop.value("waiting_for", 0)) + " (" +
                       stop.value("command", std::string("?")) + ")";
    if (waiting.size() > 1) text += " of " + first.value("name", std::string("?"));
    text += " to exit; " + kill_text(stop.contains("kill_in_ms") ? stop["kill_in_ms"] : json(nullptr));
    if (waiting.size() > 1) {
        std::size_t more = waiting.size() - 1;
        text += " (and " + std::to_string(more) + (more == 1 ? " more service)" : " more services)");
    }
    return text;
}

void StopWaitLine::show(const std::string& text) {
    if (!tty_) {
        if (printed_ || text.empty()) return;
        write_err("reins: " + text + "\n");
        printed_ = true;
        return;
    }
    if (text.empty()) {
        clear();
        return;
    }
    write_err("\r\x1b[Kreins: " + text);
    shown_ = true;
    printed_ = true;
}

void StopWaitLine::clear() {
    if (!shown_) return;
    write_err("\r\x1b[K");
    shown_ = false;
}

Result<control::ControlReply> call_supervisor_stopping(const std::string& state_dir, std::string method,
                                                       std::string path, json body,
                                                       std::chrono::milliseconds timeout) {
    Loop loop;
    auto r = loop.run(stopping(state_dir, std::move(method), std::move(path), std::move(body), timeout));
    (void)loop.close();
    return r;
}

}  // namespace reins::cli
