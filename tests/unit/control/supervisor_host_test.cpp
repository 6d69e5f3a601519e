// SupervisorHost as an embedding application uses it: no signal watchers
// and no control socket, yet the lock (with the host's data), state.json,
// pid files, and the survivors of a killed previous supervisor stopped at
// open. Real files, real processes, a real SIGINT.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "harness.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/async/timer.hpp"
#include "reins/control/state_file.hpp"
#include "reins/control/supervisor_host.hpp"
#include "reins/supervisor/process_tree.hpp"
#include "temp_dir.hpp"

using namespace reins;
using namespace reins::control;
using reins::test::TempDir;
using namespace std::chrono_literals;

namespace {

std::string slurp(const std::string& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool exists(const std::string& p) { return ::access(p.c_str(), F_OK) == 0; }

// A direct child running `sleep 30` in a session of its own (like a
// service); SIGKILLed and reaped at the end whatever happened.
struct Sleeper {
    pid_t pid = -1;
    Sleeper() {
        pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::setsid();
            ::execlp("sleep", "sleep", "30", static_cast<char*>(nullptr));
            ::_exit(127);
        }
    }
    Sleeper(const Sleeper&) = delete;
    Sleeper& operator=(const Sleeper&) = delete;
    ~Sleeper() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);  // still our unreaped child: the pid cannot have been reused
            ::waitpid(pid, nullptr, 0);
        }
    }
    /// Running (not a zombie: a killed child stays one until reaped).
    bool running() const {
        auto st = supervisor::read_proc_stat(pid);
        return st && st->state != 'Z';
    }
};

// The pid of a process that has exited (a reaped child): a dead supervisor.
pid_t dead_pid() {
    pid_t p = ::fork();
    REQUIRE(p >= 0);
    if (p == 0) ::_exit(0);
    ::waitpid(p, nullptr, 0);
    return p;
}

volatile std::sig_atomic_t sigint_seen = 0;
void on_sigint(int) { sigint_seen = 1; }

// The host's own SIGINT handler for the duration of a test.
struct OwnSigint {
    struct sigaction before {};
    OwnSigint() {
        struct sigaction sa {};
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        REQUIRE(::sigaction(SIGINT, &sa, &before) == 0);
        sigint_seen = 0;
    }
    ~OwnSigint() { ::sigaction(SIGINT, &before, nullptr); }
};

HostOptions embedded_options(const std::string& dir) {
    HostOptions o;
    o.paths = StatePaths{dir};
    o.version = "test";
    o.signals = false;
    o.control_socket = false;
    o.subreaper = false;  // leave the test process as it is
    o.lock_data = "port 8123";
    supervisor::ServiceSpec s;
    s.name = "sleeper";
    s.command = supervisor::CommandSpec{std::vector<std::string>{"sleep", "30"}};
    s.stop.timeout = 5000ms;
    o.services.push_back(std::move(s));
    return o;
}

struct Seen {
    bool started = false;
    int pid = 0;
    uint64_t pid_start_time = 0;
    bool shut_down_by_sigint = true;
    bool running_after_sigint = false;
};

Task<void> drive(SupervisorHost* host, Seen* seen) {
    TaskScope scope = TaskScope::shielded();
    std::stop_source stop;
    scope.spawn(host->run(stop.get_token()));
    auto r = co_await host->supervisor().start();
    seen->started = r.has_value();
    if (seen->started) {
        const auto st = host->supervisor().status().front();
        seen->pid = st.pid;
        seen->pid_start_time = st.pid_start_time;
        ::raise(SIGINT);  // the host's handler, not reins, must see it
        auto slept = co_await sleep(300ms);
        (void)slept;
        seen->shut_down_by_sigint = host->shutdown_token().stop_requested();
        seen->running_after_sigint = host->supervisor().status().front().state == supervisor::ServiceState::running;
    }
    stop.request_stop();
    co_await scope.join();
}

}  // namespace

TEST_SUITE("host") {

TEST_CASE("without signals and control socket: lock, state.json, pid files; SIGINT stays the host's") {
    TempDir tmp("host");
    const std::string dir = tmp.path + "/.reins";
    OwnSigint own;
    Seen seen;
    std::string state_running;
    bool pid_file_running = false;
    {
        Loop loop;
        {
            SupervisorHost host(embedded_options(dir));
            auto opened = host.open();
            REQUIRE_MESSAGE(opened.has_value(), opened.error().message());
            StatePaths paths{dir};
            CHECK_FALSE(exists(paths.sock()));
            auto lock = nlohmann::json::parse(slurp(paths.lock()));
            CHECK(lock["pid"] == ::getpid());
            CHECK(lock["data"] == "port 8123");
            // state.json is written at open, and on every transition.
            host.supervisor().events().add_listener([&](const supervisor::ServiceEvent& e) {
                if (e.to == supervisor::ServiceState::running) {
                    // Listeners run in order: the host's (added first) wrote it already.
                    state_running = slurp(paths.state());
                    pid_file_running = exists(paths.pid_file("sleeper"));
                }
            });
            loop.run(drive(&host, &seen));
            CHECK_FALSE(exists(paths.sock()));
            auto final_state = read_state(paths);
            REQUIRE_MESSAGE(final_state.has_value(), final_state.error().message());
            REQUIRE(final_state->services.size() == 1);
            CHECK(final_state->services[0].state == "stopped");
            CHECK_FALSE(exists(paths.pid_file("sleeper")));
        }
        CHECK(loop.close().has_value());
    }
    REQUIRE(seen.started);
    CHECK(seen.pid > 0);
    CHECK(sigint_seen == 1);                    // the host's own handler fired
    CHECK_FALSE(seen.shut_down_by_sigint);      // and reins did not take it as a shutdown
    CHECK(seen.running_after_sigint);
    CHECK(state_running.find("\"running\"") != std::string::npos);
    CHECK(state_running.find("\"pid\": " + std::to_string(seen.pid)) != std::string::npos);
    CHECK(pid_file_running);
    CHECK_FALSE(supervisor::process_alive(supervisor::ProcessRef{seen.pid, seen.pid_start_time}));  // stopped
}

TEST_CASE("open stops the survivors of a killed previous supervisor, unless told not to") {
    for (bool sweep : {true, false}) {
        CAPTURE(sweep);
        TempDir tmp("host");
        const std::string dir = tmp.path + "/.reins";
        StatePaths paths{dir};
        std::filesystem::create_directories(dir);
        Sleeper left;
        auto st = supervisor::process_start_time(left.pid);
        REQUIRE(st.has_value());
        // The last word of a supervisor that was SIGKILLed: its service runs.
        StateSnapshot snap;
        snap.supervisor = LockInfo{dead_pid(), 1, "2026-11-22T10:15:03.123Z", "0.1.0", ""};
        ServiceRecord rec;
        rec.name = "sleeper";
        rec.state = "running";
        rec.pid = left.pid;
        rec.pid_start_time = *st;
        snap.services.push_back(rec);
        REQUIRE(write_state(paths, snap).has_value());
        REQUIRE(left.running());

        Loop loop;
        {
            HostOptions o = embedded_options(dir);
            o.sweep_survivors = sweep;
            SupervisorHost host(std::move(o));
            auto opened = host.open();
            REQUIRE_MESSAGE(opened.has_value(), opened.error().message());
            CHECK(left.running() == !sweep);
            if (sweep)
                CHECK(slurp(paths.supervisor_log()).find("left by a supervisor that is gone") != std::string::npos);
        }
        CHECK(loop.close().has_value());
    }
}

}  // TEST_SUITE
