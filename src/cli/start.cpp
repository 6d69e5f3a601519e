// reins start [SERVICE...] | reins start --name X -- CMD, and reins restart:
// make sure a supervisor runs on the state directory (spawning the daemon
// if needed), then ask it to start (or restart) the services and report
// their ready lines — or why they failed, with the exit code of
// docs/cli.md, Exit codes.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <thread>

#include "cli/hosting.hpp"
#include "cli/supervisor_client.hpp"
#include "reins/control/log_file.hpp"
#include "reins/control/state_file.hpp"
#include "reins/control/supervisor_lock.hpp"
#include "reins/control/survivors.hpp"

extern char** environ;

namespace reins::cli {

using nlohmann::json;

namespace {

constexpr auto action_timeout = std::chrono::hours(1);  // bounded by the services' own startup timeouts

/// Waits (up to `limit`) until the supervisor answers on its socket.
bool wait_until_answering(const std::string& state_dir, std::chrono::milliseconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        auto r = call_supervisor(state_dir, "GET", "/v1/status", nullptr, 2s);
        if (r) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

/// The last lines of reins.log, to explain a daemon that died at start.
std::string log_tail(const std::string& path) {
    auto text = config::read_text_file(path);
    if (!text) return {};
    std::string s = *text;
    std::size_t pos = s.size(), lines = 0;
    while (pos > 0 && lines < 6) {
        pos = s.rfind('\n', pos - 1);
        if (pos == std::string::npos) {
            pos = 0;
            break;
        }
        ++lines;
    }
    return s.substr(pos);
}

/// Spawns `reins __daemon` in a new session and waits for its verdict.
int spawn_daemon(const Args& args, const Place& place, Output& out) {
    control::StatePaths paths{place.state_dir};
    auto made = control::make_dirs(paths.logs(), 0700);
    if (!made) {
        out.error("cannot create " + paths.logs() + ": " + made.error().message(),
                  "check the permissions of " + place.state_dir + " or choose another --state-dir");
        return exit_failure;
    }
    int log_fd = ::open(paths.supervisor_log().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int pipe_fds[2];
    if (log_fd < 0 || null_fd < 0 || ::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        out.error("cannot prepare the daemon's files in " + paths.logs() + ": " + std::strerror(errno));
        return exit_failure;
    }
    std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    std::vector<std::string> argv{"reins", "__daemon", "--state-dir", place.state_dir, "--ready-fd", "3"};
    if (!place.config.empty() && !args.dashdash) {
        std::error_code ec;
        argv.push_back("--config");
        argv.push_back(std::filesystem::absolute(place.config, ec).string());
        for (const auto& [k, vs] : service_flags(args))
            for (const auto& v : vs) argv.push_back("--" + k + "=" + v);
        if (args.has("port-base")) argv.push_back("--port-base=" + args.get("port-base"));
        for (const auto& n : args.positional) argv.push_back(n);
    }
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, null_fd, 0);
    posix_spawn_file_actions_adddup2(&fa, log_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, log_fd, 2);
    posix_spawn_file_actions_adddup2(&fa, pipe_fds[1], 3);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    pid_t pid = 0;
    int err = posix_spawn(&pid, self.c_str(), &fa, &attr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(log_fd);
    ::close(null_fd);
    ::close(pipe_fds[1]);
    if (err != 0) {
        ::close(pipe_fds[0]);
        out.error("cannot start the supervisor (" + self + "): " + std::strerror(err));
        return exit_failure;
    }
    std::string verdict;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        verdict.append(buf, static_cast<std::size_t>(n));
    }
    ::close(pipe_fds[0]);
    while (!verdict.empty() && verdict.back() == '\n') verdict.pop_back();
    if (verdict == "ok") return exit_ok;
    int status = 0;
    ::waitpid(pid, &status, WNOHANG);  // it has exited or is about to: no zombie left behind
    if (verdict.rfind("busy", 0) == 0) {
        // Another `reins start` won the race: use its supervisor.
        if (wait_until_answering(place.state_dir, std::chrono::seconds(10))) return exit_ok;
        out.error("another supervisor (" + verdict.substr(5) + ") holds " + paths.lock() + " but does not answer",
                  "see " + paths.supervisor_log());
        return exit_failure;
    }
    ::waitpid(pid, &status, 0);
    std::string why = verdict.rfind("error ", 0) == 0 ? verdict.substr(6) : "it exited at once";
    out.error("the supervisor could not start: " + why, "see " + paths.supervisor_log() + ":" + log_tail(paths.supervisor_log()));
    return exit_failure;
}

/// A supervisor answering on the state directory: the one there, or a new daemon.
int ensure_supervisor(const Args& args, const Place& place, Output& out) {
    auto r = call_supervisor(place.state_dir, "GET", "/v1/status", nullptr, 5s);
    if (r) return exit_ok;
    if (!control::is_not_running(r.error())) {
        out.error("cannot ask the supervisor on " + place.state_dir + ": " + r.error().message(),
                  "see " + control::StatePaths{place.state_dir}.supervisor_log());
        return exit_failure;
    }
    control::StatePaths paths{place.state_dir};
    if (control::inspect_lock(paths).held) {
        // A supervisor is starting up (another `reins start`): wait for it.
        if (wait_until_answering(place.state_dir, std::chrono::seconds(10))) return exit_ok;
    } else {
        // The next start stops what a killed supervisor left.
        auto survivors = control::find_survivors(paths);
        for (const auto& s : survivors)
            out.say("stopping " + s.service + " pid " + std::to_string(s.process.pid) +
                    ", left by a supervisor that is gone");
        (void)control::stop_survivors(survivors, std::chrono::seconds(10));
    }
    return spawn_daemon(args, place, out);
}

/// After a failed start, a daemon with nothing left to do exits by itself
/// (a second or so after its last request): wait (10 s at most) until it
/// has, so that the next command (a `reins run` in the same folder, say)
/// does not find the state directory still locked. One that still runs or
/// starts a service stays: no wait then. Reads the files only: a request
/// would keep the daemon busy.
void wait_for_idle_exit(const std::string& state_dir) {
    control::StatePaths paths{state_dir};
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
        if (!control::inspect_lock(paths).held) return;
        if (auto snap = control::read_state(paths))
            for (const auto& s : snap->services)
                if (s.state == "running" || s.state == "starting" || s.state == "stopping") return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

/// True when `reply` comes from (or failed on) a supervisor that is leaving:
/// it shut down after another command's failed start, between our check
/// that it answers and our request.
bool supervisor_leaving(const Result<control::ControlReply>& reply) {
    if (!reply) return control::is_not_running(reply.error());
    if (reply->status != 503 || !reply->body.is_object()) return false;
    const json& e = reply->body.value("error", json::object());
    return e.is_object() && e.value("kind", "") == "shutting_down";
}

/// Waits (10 s at most) until the supervisor of `state_dir` has exited.
void wait_for_exit(const std::string& state_dir) {
    control::StatePaths paths{state_dir};
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until && control::inspect_lock(paths).held)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

/// Sends one request; if the supervisor was leaving, waits for it to exit,
/// starts a new one and sends it again (twice at most). `fresh` is set
/// when the request went to a new supervisor.
Result<control::ControlReply> call_staying(const Args& args, const Place& place, const std::string& method,
                                           const std::string& route, const json& body,
                                           std::chrono::milliseconds timeout, Output& out, bool* fresh) {
    auto reply = call_supervisor(place.state_dir, method, route, body, timeout);
    for (int retry = 0; retry < 2 && supervisor_leaving(reply); ++retry) {
        wait_for_exit(place.state_dir);
        if (ensure_supervisor(args, place, out) != exit_ok) break;
        *fresh = true;
        reply = call_supervisor(place.state_dir, method, route, body, timeout);
    }
    return reply;
}

/// Validates the config (and the names asked for) before anything starts.
int check_config(const Args& args, const Place& place, Output& out) {
    int code = exit_failure;
    auto h = hosting(args, place, out, &code);
    return h ? exit_ok : code;
}

/// The names of the services of the supervisor answering on `state_dir`;
/// nullopt when none answers.
std::optional<std::vector<std::string>> supervisor_services(const std::string& state_dir) {
    auto r = call_supervisor(state_dir, "GET", "/v1/status", nullptr, 5s);
    if (!r || r->status != 200 || !r->body.is_object()) return std::nullopt;
    std::vector<std::string> names;
    for (const auto& s : r->body.value("services", json::array())) names.push_back(s.value("name", ""));
    return names;
}

/// Before `start`/`restart` of config services: a service the running
/// supervisor already has needs no config file (it is found through the
/// state directory alone); one it does not have yet is read from the
/// config, which must then exist and be valid.
int check_services(const Args& args, const Place& place, const std::optional<std::vector<std::string>>& running,
                   Output& out) {
    std::vector<std::string> unknown;
    for (const auto& n : args.positional)
        if (!running || std::find(running->begin(), running->end(), n) == running->end()) unknown.push_back(n);
    const bool all_known = running && unknown.empty();
    if (place.config.empty()) {
        if (all_known) return exit_ok;
        if (running && !unknown.empty()) {
            std::string known;
            for (const auto& n : *running) known += (known.empty() ? "" : ", ") + n;
            std::error_code ec;
            out.error("no service called '" + unknown.front() + "' in the supervisor on " + place.state_dir +
                          ", and no reins.toml or Procfile in " + std::filesystem::current_path(ec).string(),
                      (known.empty() ? std::string("it has no services") : "it has: " + known) +
                          "; add one with: reins start --name " + unknown.front() + " -- COMMAND");
            return exit_not_found;
        }
        (void)config_path(args, out);  // no supervisor to ask and no config: says there is none
        return exit_failure;
    }
    if (!running) return check_config(args, place, out);
    // A supervisor runs: the config is still checked, for the services it
    // does not have. Service options do not apply to it (see the note below).
    Args check = args;
    check.positional = unknown;
    for (const auto& d : service_options()) check.values.erase(std::string(d.long_name));
    if (all_known && !args.positional.empty()) return exit_ok;
    return check_config(check, place, out);
}

int start_or_restart(const Args& args, Output& out, bool restart) {
    auto place = find_place(args, out, false);
    if (!place) return exit_failure;
    auto running = supervisor_services(place->state_dir);
    bool was_running = running.has_value();
    if (args.dashdash) {
        if (int c = check_config(args, *place, out); c != exit_ok) return c;
    } else if (int c = check_services(args, *place, running, out); c != exit_ok) {
        return c;
    }
    if (int c = ensure_supervisor(args, *place, out); c != exit_ok) return c;
    std::vector<std::string> names = args.positional;
    if (args.dashdash) {
        json body;
        body["command"] = args.after_dashdash;
        body["flags"] = json::object();
        for (const auto& [k, v] : service_flags(args)) body["flags"][k] = v;
        std::error_code ec;
        body["cwd"] = std::filesystem::current_path(ec).string();
        bool fresh = false;
        auto added = call_staying(args, *place, "POST", "/v1/services", body, 10s, out, &fresh);
        if (fresh) was_running = false;
        if (!added) {
            out.error("cannot add the service: " + added.error().message());
            return exit_failure;
        }
        if (added->status != 200) return report_error(*added, out);
        names = {added->body.value("service", "")};
    } else if (was_running && (!service_flags(args).empty() || args.has("port-base"))) {
        out.say("note: the supervisor was already running: service options apply at its next start (reins stop first)");
    }
    json body;
    body["services"] = names;
    auto t0 = std::chrono::steady_clock::now();
    const char* route = restart && was_running ? "/v1/restart" : "/v1/start";
    bool fresh = false;
    auto reply = args.dashdash ? call_supervisor(place->state_dir, "POST", route, body, action_timeout)
                               : call_staying(args, *place, "POST", route, body, action_timeout, out, &fresh);
    if (fresh) was_running = false;
    if (!reply) {
        out.error("the supervisor on " + place->state_dir + " did not answer: " + reply.error().message(),
                  "see " + control::StatePaths{place->state_dir}.supervisor_log());
        return exit_failure;
    }
    int code = report_started(*reply, out, seconds_since(t0));
    if (code != exit_ok && !was_running) wait_for_idle_exit(place->state_dir);
    return code;
}

}  // namespace

int run_start(const Args& args, Output& out) { return start_or_restart(args, out, false); }
int run_restart(const Args& args, Output& out) { return start_or_restart(args, out, true); }

}  // namespace reins::cli
