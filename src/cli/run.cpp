// reins run [SERVICE...] | reins run -- COMMAND...: supervise in the
// foreground (docs/cli.md, Foreground): output as `NAME | line`, ready lines, Ctrl-C stops
// everything in order (a second one kills) and says what a slow stop waits
// for, and the exit code says how the services ended.
#include <map>

#include "cli/console.hpp"
#include "cli/hosting.hpp"
#include "cli/stop_progress.hpp"
#include "cli/supervisor_client.hpp"
#include "reins/async/loop.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/async/timer.hpp"
#include "reins/control/status_json.hpp"
#include "reins/supervisor/probe.hpp"

namespace reins::cli {

using nlohmann::json;
using supervisor::ServiceState;

namespace {

struct RunSession {
    control::SupervisorHost* host = nullptr;
    Console* console = nullptr;
    std::vector<std::string> start;
    bool single = false;
    std::map<std::string, std::chrono::steady_clock::time_point> starting_since;
    Channel<bool> kick{1};           // a service began starting: show progress if it takes long
    Channel<bool> stopping_kick{1};  // a service began stopping: say what it waits for if it takes long
    Result<void> started;
};

void on_event(RunSession* s, const supervisor::ServiceEvent& e) {
    auto* svc = s->host->supervisor().find(e.service);
    // A transition to the same state (health news, a new main pid from
    // sd_notify MAINPID=) is no new start and no new ready.
    if (e.from == e.to) return;
    if (e.to == ServiceState::starting) {
        s->starting_since[e.service] = e.time;
        s->kick.try_send(true);
    } else if (e.to == ServiceState::stopping) {
        s->stopping_kick.try_send(true);
    } else if (e.to == ServiceState::running && e.from == ServiceState::starting) {
        int port = svc ? svc->status().port : 0;
        if (svc && !svc->status().ready_checked) {
            s->console->say(Console::started_line(e.service, port, e.pid));
        } else {
            auto it = s->starting_since.find(e.service);
            double secs = it == s->starting_since.end() ? 0.0 : std::chrono::duration<double>(e.time - it->second).count();
            s->console->say(Console::ready_line(e.service, port, e.pid, secs));
        }
    } else if (e.to == ServiceState::restarting || e.to == ServiceState::failed ||
               (e.to == ServiceState::stopped && svc && !svc->status().stop_requested)) {
        s->console->say(e.service + " " + std::string(to_string(e.to)) + (e.reason.empty() ? "" : " (" + e.reason + ")"));
    }
}

std::string waiting_for(const supervisor::ServiceSpec& spec) {
    std::string what = std::string(to_string(spec.ready.kind));
    if (!spec.ready.target.empty()) what += " " + spec.ready.target;
    return what;
}

/// The progress line: while a service has been starting for over 2 s.
Task<void> show_progress(RunSession* s, std::stop_token stop) {
    for (;;) {
        auto k = co_await s->kick.recv(stop);
        if (!k) co_return;
        for (;;) {
            auto slept = co_await sleep(std::chrono::milliseconds(500), stop);
            if (!slept) co_return;
            std::string line;
            auto now = std::chrono::steady_clock::now();
            bool any = false;
            for (const auto& st : s->host->supervisor().status()) {
                if (st.state != ServiceState::starting) continue;
                any = true;
                auto since = s->starting_since[st.name];
                auto secs = std::chrono::duration_cast<std::chrono::seconds>(now - since).count();
                if (secs < 2) continue;
                auto* svc = s->host->supervisor().find(st.name);
                line += (line.empty() ? "waiting for " : ", ") + st.name + " (ready: " + waiting_for(svc->spec()) +
                        ", " + std::to_string(secs) + "s)";
            }
            s->console->progress(line);
            if (!any) break;
        }
    }
}

/// While a stop has waited over 2 s: which pid it waits for (see
/// stop_progress.hpp); on a terminal refreshed every second, else once a stop.
Task<void> show_stop_waits(RunSession* s, std::stop_token stop) {
    for (;;) {
        auto k = co_await s->stopping_kick.recv(stop);
        if (!k) co_return;
        auto quiet = co_await sleep(stop_quiet_time, stop);
        if (!quiet) co_return;
        bool said = false;
        for (;;) {
            json services = json::array();
            bool any = false;
            for (const auto& st : s->host->supervisor().status()) {
                any = any || st.state == ServiceState::stopping;
                services.push_back(control::status_to_json(st));
            }
            std::string text = stop_wait_text(services);
            if (s->console->tty()) s->console->progress(text);
            else if (!said && !text.empty()) s->console->say(text);
            said = said || !text.empty();
            if (!any) break;
            auto slept = co_await sleep(std::chrono::seconds(1), stop);
            if (!slept) co_return;
        }
        s->console->progress("");
    }
}

Task<void> start_services(RunSession* s) {
    auto stop = s->host->shutdown_token();
    auto r = co_await s->host->supervisor().start(s->start, stop);
    s->started = r;
    if (!r) {
        if (!s->host->shutdown_token().stop_requested())
            s->host->request_shutdown(control::SupervisorHost::ShutdownReason::api);
        co_return;
    }
    s->host->arm();
}

/// The host, then the end of what shows its progress.
Task<void> host_run(RunSession* s, std::stop_token stop, std::stop_source* then) {
    co_await s->host->run(std::move(stop));
    then->request_stop();
}

Task<void> session(RunSession* s) {
    std::stop_source ended;
    TaskScope scope = TaskScope::shielded();
    scope.spawn(host_run(s, scope.token(), &ended));
    scope.spawn(start_services(s));
    scope.spawn(show_progress(s, s->host->shutdown_token()));
    scope.spawn(show_stop_waits(s, ended.get_token()));
    co_await scope.join();
}

/// Its last run ended by a stop (Ctrl-C, SIGTERM, `reins stop`): its exit
/// status (143 after SIGTERM) is no failure of its own.
bool stopped_on_request(const supervisor::ServiceStatus& st) {
    return st.state == ServiceState::stopped && st.stop_requested;
}

bool success(const supervisor::ServiceStatus& st, const supervisor::ServiceSpec& spec) {
    if (st.state == ServiceState::failed) return false;
    if (stopped_on_request(st)) return true;
    if (!st.last_exit) return true;
    if (st.last_exit->signal != 0) return false;
    const auto& ok = spec.restart.success_codes;
    return std::find(ok.begin(), ok.end(), st.last_exit->code) != ok.end();
}

/// A single command's own status: its code, or 128+N for signal N.
int own_status(const supervisor::LastExit& e) {
    if (e.signal) return 128 + e.signal;
    return static_cast<int>(e.code & 0xff);
}

int exit_code(RunSession& s) {
    using ShutdownReason = control::SupervisorHost::ShutdownReason;
    auto& host = *s.host;
    if (host.forced()) return 130;
    // A stop (Ctrl-C, SIGTERM, `reins stop`) before the start completed.
    if (!s.started && s.started.error().is(Errc::cancelled)) return exit_ok;
    if (!s.started && s.single && host.shutdown_reason() != ShutdownReason::signal) {
        // It ran and ended during its startup: its own status, as a script expects.
        const auto st = host.supervisor().status().front();
        if (st.last_exit && control::error_kind(s.started.error()) != "port_in_use") return own_status(*st.last_exit);
    }
    if (!s.started && host.shutdown_reason() != ShutdownReason::signal) {
        const Error& e = s.started.error();
        std::string kind = control::error_kind(e);
        std::string culprit;
        for (const auto& st : host.supervisor().status())
            if (!st.last_output.empty() && culprit.empty()) {
                culprit = st.name;
                std::string text;
                for (const auto& l : st.last_output) text += "  " + st.name + " | " + l + "\n";
                s.console->say("last output of " + st.name + ":");
                std::fputs(text.c_str(), stderr);
            }
        s.console->say(std::string("error: ") + e.message());
        return kind == "port_in_use" ? exit_port_in_use : exit_failure;
    }
    if (host.shutdown_reason() != ShutdownReason::all_ended) return exit_ok;
    if (s.single) {
        // Stopped by `reins stop`: 0, like Ctrl-C; ended on its own: its own status.
        const auto st = host.supervisor().status().front();
        if (stopped_on_request(st)) return exit_ok;
        if (!st.last_exit) return st.state == ServiceState::failed ? exit_failure : exit_ok;
        return own_status(*st.last_exit);
    }
    for (const auto& st : host.supervisor().status())
        if (!success(st, host.supervisor().find(st.name)->spec())) return exit_failure;
    return exit_ok;
}

}  // namespace

int run_run(const Args& args, Output& out) {
    auto place = find_place(args, out, !args.dashdash);
    if (!place) return exit_failure;
    int code = exit_failure;
    auto h = hosting(args, *place, out, &code);
    if (!h) return code;
    std::vector<std::string> names;
    for (const auto& s : h->options.services) names.push_back(s.name);
    Console console(names);
    RunSession s;
    s.console = &console;
    s.start = h->start;
    s.single = args.dashdash;
    h->options.console = &console;
    h->options.exit_when_all_ended = true;
    h->options.say = [&console](const std::string& line) { console.say(line); };
    h->options.on_event = [&s](const supervisor::ServiceEvent& e) { on_event(&s, e); };
    Loop loop;
    {
        control::SupervisorHost host(std::move(h->options));
        s.host = &host;
        auto opened = host.open();
        if (!opened) {
            say_busy(opened.error(), place->state_dir, out);
            return exit_failure;
        }
        loop.run(session(&s));
        code = exit_code(s);
    }
    (void)loop.close();
    return code;
}

}  // namespace reins::cli
