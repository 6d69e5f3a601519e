// A desktop app's sidecar: its local backend server (backend.py), kept the
// way the app's hand-written ServerManager kept it, by reins' host handle:
//   - one copy at a time (the state directory's lock): a second one says
//     who runs and on which port, and exits 1;
//   - port 8765 if it is free, else the first free one of 8766-8799;
//   - ready once GET /ready answers 200; unhealthy after 3 failed GET
//     /health in a row, then restarted with backoff (0.5 s, 1 s, 2 s …);
//     a 6th failure within a minute opens the circuit (failed);
//   - on exit: POST /admin/checkpoint, POST /admin/shutdown, SIGTERM, SIGKILL;
//   - every state change shown as it happens, by the main thread's poll()
//     loop (a GUI's loop would watch event_fd() the same way).
//
//   reins-example-desktop-sidecar [--state-dir DIR] [--once]
//
// --once: start, show the port, stop, exit. Otherwise it runs until Ctrl-C
// or SIGTERM. See README.md next to this file.
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "reins/control/state_file.hpp"
#include "reins/control/supervisor_thread.hpp"

using namespace std::chrono_literals;
using namespace reins::control;
using namespace reins::supervisor;

static ServiceSpec backend() {
    ServiceSpec s;
    s.name = "api";
    s.command.value = std::vector<std::string>{"python3", REINS_SIDECAR_BACKEND};
    s.port = PortSpec::prefer_in(8765, 8766, 8799);  // exported to it as $PORT
    s.ready = {.kind = ProbeKind::http, .target = "/ready", .timeout = 15s};
    s.health = {.kind = ProbeKind::http, .target = "/health", .interval = 1s, .timeout = 1s, .failures = 3};
    s.restart = {.initial = 500ms, .max_delay = 10s, .max_restarts = 5, .window = 60s};  // 0.5 s, 1 s, 2 s ...
    s.stop.pre = HttpAction{"POST", "/admin/checkpoint"};
    s.stop.http = HttpAction{"POST", "/admin/shutdown"};
    s.stop.timeout = 5s;  // the shutdown request may take half of it, then SIGTERM; SIGKILL at 5 s
    return s;
}

static void say(const std::string& line) {
    std::printf("sidecar: %s\n", line.c_str());
    std::fflush(stdout);  // a line at a time, also into a pipe
}

// One event on the screen; false once the backend failed for good. (The
// other way to get events: Options::on_event, a callback on reins' thread.)
static bool show(const HostEvent& e) {
    if (e.kind != HostEvent::Kind::transition) {
        say(e.kind == HostEvent::Kind::note ? e.text : e.service + " | " + e.text);
        return true;
    }
    const auto& t = e.transition;
    std::string what = t.from == t.to ? std::string(to_string(t.health))  // health news, a STATUS= text
                                      : std::string(to_string(t.from)) + " -> " + std::string(to_string(t.to));
    say(t.service + ": " + what + (t.reason.empty() ? "" : " (" + t.reason + ")"));
    if (t.to == ServiceState::running && t.from != ServiceState::running && t.port)
        say(t.service + " ready on port " + std::to_string(t.port) + " (pid " + std::to_string(t.pid) + ")");
    return t.to != ServiceState::failed;
}

int main(int argc, char** argv) {
    std::string dir;
    bool once = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--once") once = true;
        else if (arg == "--state-dir" && i + 1 < argc) dir = std::filesystem::absolute(argv[++i]);
        else return std::fprintf(stderr, "usage: %s [--state-dir DIR] [--once]\n", argv[0]), 2;
    }
    const char* run_dir = std::getenv("XDG_RUNTIME_DIR");
    if (dir.empty()) dir = run_dir ? std::string(run_dir) + "/reins-desktop-sidecar" : "/tmp/reins-desktop-sidecar-" + std::to_string(getuid());

    // Ctrl-C and SIGTERM come through a signalfd in the loop below: blocked
    // before open(), so reins' thread inherits the mask too.
    sigset_t quit_signals;
    sigemptyset(&quit_signals);
    sigaddset(&quit_signals, SIGINT);
    sigaddset(&quit_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &quit_signals, nullptr);
    int signal_fd = signalfd(-1, &quit_signals, SFD_CLOEXEC);

    SupervisorThread::Options options;
    options.state_dir = dir;  // the single-instance lock, state.json, logs/api.log
    options.lock_data = "desktop-sidecar, backend port 8765 or 8766-8799";
    options.queue_events = true;  // for event_fd() + take_events()
    Outcome failed;
    auto sup = SupervisorThread::open(options, &failed);
    if (!sup) {  // another copy runs: say who, and where its backend is
        say(failed.message + "; " + failed.hint);
        if (auto st = read_state({dir}))
            for (const auto& s : st->services)
                if (s.port) say("its " + s.name + " is on port " + std::to_string(s.port) + " (pid " + std::to_string(s.pid) + ")");
        return 1;
    }
    auto up = sup->add(backend());
    if (up) up = sup->start({"api"}, 30s);
    if (!up) {  // returning destroys the handle, which stops what started
        say(up.message + (up.hint.empty() ? "" : "; " + up.hint));
        for (const auto& line : up.last_output) say("  | " + line);
        return 1;
    }

    pollfd fds[2] = {{sup->event_fd(), POLLIN, 0}, {signal_fd, POLLIN, 0}};
    bool gave_up = false, quit = once;
    for (;;) {
        for (const auto& e : sup->take_events()) gave_up |= !show(e);
        if (quit || gave_up) break;
        if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
        signalfd_siginfo si{};
        if ((fds[1].revents & POLLIN) && read(signal_fd, &si, sizeof si) == sizeof si) {
            say(std::string("got ") + strsignal(static_cast<int>(si.ssi_signo)) + ": stopping the backend");
            quit = true;
        }
    }
    sup->shutdown();  // the stop pipeline for every service; then the thread ends
    for (const auto& e : sup->take_events()) show(e);
    return gave_up ? 1 : 0;
}
