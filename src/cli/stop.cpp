// reins stop [SERVICE...]: stop services; with none named, every service
// and the supervisor (docs/cli.md). After a supervisor was killed, stops
// the service processes that survived it and removes the stale files.
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "cli/stop_progress.hpp"
#include "cli/supervisor_client.hpp"
#include "reins/control/state_file.hpp"
#include "reins/control/supervisor_lock.hpp"
#include "reins/control/survivors.hpp"

namespace reins::cli {

using nlohmann::json;

namespace {

constexpr auto action_timeout = std::chrono::hours(1);  // a stop ends when the processes are gone

/// The supervisor's lock is (or within a second becomes) free: it is gone.
bool lock_released(const control::StatePaths& paths) {
    for (int i = 0; i < 50; ++i) {
        if (!control::inspect_lock(paths).held) return true;
        ::usleep(20'000);
    }
    return false;
}

/// No supervisor answers: stop what survived a killed one.
int stop_survivors(const Place& place, Output& out) {
    control::StatePaths paths{place.state_dir};
    auto lock = control::inspect_lock(paths);
    if (lock.held) {
        out.error("the supervisor (pid " + std::to_string(lock.info ? lock.info->pid : 0) + ") holds " + paths.lock() +
                      " but does not answer on " + paths.sock(),
                  "see " + paths.supervisor_log() + "; kill that pid if it is stuck, then run reins stop again");
        return exit_failure;
    }
    auto snap = control::read_state(paths);
    std::vector<control::Survivor> survivors = control::find_survivors(paths);
    for (const auto& s : survivors)
        out.say("stopping " + s.service + " pid " + std::to_string(s.process.pid) + " (" + s.command +
                "), left by a supervisor that is gone");
    auto left = control::stop_survivors(survivors, std::chrono::seconds(10));
    // Stale files go either way; reins.lock stays (see supervisor_lock.hpp).
    std::error_code ec;
    std::filesystem::remove(paths.pid(), ec);
    std::filesystem::remove(paths.sock(), ec);
    for (const auto& f : std::filesystem::directory_iterator(paths.pids(), ec)) std::filesystem::remove(f.path(), ec);
    if (!left.empty()) {
        for (const auto& s : left)
            out.error("pid " + std::to_string(s.process.pid) + " of " + s.service + " is still alive after SIGKILL",
                      "it may be stuck in the kernel (state D); check: ps -o stat,cmd " + std::to_string(s.process.pid));
        return exit_failure;
    }
    if (survivors.empty()) return say_not_running(place.state_dir, out);
    if (snap) {
        // The survivors are gone: state.json says so from now on.
        for (auto& r : snap->services) {
            r.state = "stopped";
            r.pid = 0;
        }
        (void)control::write_state(paths, *snap);
    }
    out.say("stopped " + std::to_string(survivors.size()) + " process(es)");
    return exit_ok;
}

/// Waits until the supervisor released its lock (it exits after /v1/shutdown).
void wait_for_exit(const control::StatePaths& paths) {
    for (int i = 0; i < 500; ++i) {
        if (!control::inspect_lock(paths).held) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

}  // namespace

int run_stop(const Args& args, Output& out) {
    if (args.dashdash) {
        out.error("reins stop takes service names, not a command", "see: reins stop --help");
        return exit_failure;
    }
    auto place = find_place(args, out, false);
    if (!place) return exit_failure;
    control::StatePaths paths{place->state_dir};
    if (args.positional.empty()) {
        auto reply = call_supervisor_stopping(place->state_dir, "POST", "/v1/shutdown", nullptr, action_timeout);
        if (!reply) {
            // Refused, or cut off by a supervisor dying as we asked (its
            // socket accepts for an instant after a SIGKILL): its survivors.
            if (control::is_not_running(reply.error()) || lock_released(paths)) return stop_survivors(*place, out);
            out.error("cannot ask the supervisor on " + place->state_dir + " to stop: " + reply.error().message(),
                      "see " + paths.supervisor_log());
            return exit_failure;
        }
        if (reply->status != 200) return report_error(*reply, out);
        wait_for_exit(paths);
        std::string names;
        for (const auto& s : reply->body.value("services", json::array()))
            names += (names.empty() ? "" : ", ") + s.value("name", "?");
        out.say(names.empty() ? "supervisor stopped" : "stopped " + names + " and the supervisor");
        return exit_ok;
    }
    json body;
    body["services"] = args.positional;
    auto reply = call_supervisor_stopping(place->state_dir, "POST", "/v1/stop", body, action_timeout);
    if (!reply) {
        if (control::is_not_running(reply.error())) {
            out.error(args.positional.front() + " is not running: no supervisor on " + place->state_dir,
                      "reins status shows what is running");
            return exit_not_found;
        }
        out.error("cannot ask the supervisor on " + place->state_dir + ": " + reply.error().message(),
                  "see " + paths.supervisor_log());
        return exit_failure;
    }
    if (reply->status == 409) {
        out.say(reply->body["error"].value("message", "not running"));
        return exit_not_found;
    }
    if (reply->status != 200) return report_error(*reply, out);
    for (const auto& s : reply->body.value("services", json::array()))
        out.say("stopped " + s.value("name", "?") + (s["last_exit"].is_string() ? " (" + s["last_exit"].get<std::string>() + ")" : ""));
    return exit_ok;
}

}  // namespace reins::cli
