// SupervisorHost: a Supervisor living in a state directory (docs/cli.md,
// The state directory) — the lock, the control socket, state.json and pid
// files rewritten on every transition, service logs and reins.log, the optional
// /live and /ready listener, signal handling, and the survivors of a killed
// previous supervisor stopped at open. `reins run` hosts one in the
// foreground (with a console sink), the daemon behind `reins start` in the
// background. An embedding host turns off the signals and the control
// socket (HostOptions::signals, control_socket): its process's signals stay
// its own, and no socket is opened.
//
//   SupervisorHost host(options);
//   if (auto r = host.open(); !r) ...        // busy lock → LockErrc::busy
//   loop.run(flow(host));                     // spawn host.run(stop), start services...
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "reins/async/channel.hpp"
#include "reins/async/resident_trim.hpp"
#include "reins/config/config.hpp"
#include "reins/control/control_api.hpp"
#include "reins/control/log_file.hpp"
#include "reins/control/log_writer.hpp"
#include "reins/control/state_paths.hpp"
#include "reins/control/supervisor_lock.hpp"
#include "reins/http/server.hpp"
#include "reins/supervisor/supervisor.hpp"

namespace reins::control {

struct HostOptions {
    StatePaths paths;
    std::string version;
    std::string config_path;                  ///< absolute, "" for none
    std::string base_dir;                     ///< where single-command services run (the caller's cwd)
    config::SupervisorSettings settings;      ///< [supervisor] listen
    std::vector<supervisor::ServiceSpec> services;
    /// Also receives every output line (`reins run` prints them).
    supervisor::OutputSink* console = nullptr;
    /// Every transition, after state.json was written (`reins run` prints ready lines).
    std::function<void(const supervisor::ServiceEvent&)> on_event;
    /// Human lines ("web: stop.pre: refused"); also written to reins.log.
    std::function<void(const std::string&)> say;
    /// `reins run`: shut down once every service ended and none will restart.
    bool exit_when_all_ended = false;
    /// The daemon: shut down when a start failed and no service is running.
    bool exit_when_idle_after_failure = false;
    /// Make this process a child subreaper (the reins executable does).
    bool subreaper = true;
    /// The environment services inherit; empty: this process's.
    std::vector<std::string> base_env;
    /// A keeper process stops the services if this process dies (SupervisorOptions::keeper).
    bool keeper = true;
    /// Watch SIGINT/SIGTERM/SIGHUP (shut down on the first; a second SIGINT
    /// kills). false: no signal watcher at all, the process's handlers stay
    /// as the host set them.
    bool signals = true;
    /// Serve the control API on reins.sock (and [supervisor] listen).
    /// false: neither is opened; `reins` commands find no supervisor to ask.
    bool control_socket = true;
    /// The host's own text in reins.lock (LockInfo::data), for whoever finds
    /// the state directory busy.
    std::string lock_data;
    /// At open, stop the processes a killed previous supervisor of the state
    /// directory left running (control/survivors.hpp), before anything starts.
    bool sweep_survivors = true;
    /// Two seconds after the last transition or request, give back the pages
    /// the process no longer touches (trim_resident_memory(): start-up code,
    /// freed heap). For a process that owns its address space: the reins
    /// executable sets it, a library host should not.
    bool trim_when_quiet = false;
};

class SupervisorHost {
public:
    /// Why run() returned.
    /// state_dir_taken: the state directory was removed, and another
    /// supervisor locked the new one before this one could (see
    /// recreate_state_dir).
    enum class ShutdownReason { stop_token, signal, api, all_ended, idle_after_failure, state_dir_taken };

    explicit SupervisorHost(HostOptions options);
    ~SupervisorHost();
    SupervisorHost(const SupervisorHost&) = delete;
    SupervisorHost& operator=(const SupervisorHost&) = delete;

    /// Takes the state directory: creates it (0700), takes the lock
    /// (LockErrc::busy naming the holder), stops the survivors of a killed
    /// previous supervisor (sweep_survivors: SIGTERM, SIGKILL after 10 s —
    /// this call blocks meanwhile), clears stale pid files, listens on
    /// reins.sock and [supervisor] listen (control_socket). Call on the
    /// loop's thread, before run(). A busy lock fills `*holder` (when given)
    /// with who holds it.
    Result<void> open(LockInfo* holder = nullptr);

    /// Serves until `stop`, a signal (SIGINT/SIGTERM), /v1/shutdown, or an
    /// exit condition of the options; then stops every service
    /// while still answering status, and returns.
    Task<void> run(std::stop_token stop);

    /// Asks run() to stop everything and return.
    void request_shutdown(ShutdownReason why);

    supervisor::Supervisor& supervisor() noexcept { return *sup_; }
    ShutdownReason shutdown_reason() const noexcept { return shutdown_reason_; }
    /// Fires when the shutdown begins (for work the caller does meanwhile).
    std::stop_token shutdown_token() const noexcept { return shutdown_source_.get_token(); }
    /// A second SIGINT forced SIGKILL (`reins run` exits 130).
    bool forced() const noexcept { return forced_; }
    /// Set once the services asked for were started (arms exit_when_all_ended).
    void arm() noexcept { armed_ = true; check_all_ended(); }
    /// Adds a service described by CLI flags (POST /v1/services).
    Result<std::string> add_service(const nlohmann::json& body);
    /// A line in reins.log (and to `say`).
    void note(const std::string& line);

private:
    class TeeSink;
    void on_transition(const supervisor::ServiceEvent& e);
    /// The pid file, state.json, the logs and on_event for one transition.
    void record_transition(const supervisor::ServiceEvent& e);
    void write_state();
    void check_all_ended();
    void kill_everything();
    /// What a killed previous supervisor left running, stopped (open()).
    void stop_survivors();
    static Task<void> run_supervisor(SupervisorHost* self, std::stop_token stop, std::stop_source* then_stop);
    static Task<void> watch_signals(SupervisorHost* self, std::stop_token stop);
    static Task<void> serve(http::Server* server, std::stop_token stop);
    static Task<http::Response> ready_answer(supervisor::Supervisor* sup);
    /// A service is running, starting or stopping.
    bool has_work() const;
    /// Shuts down after a failed start once nothing is left to do (see idle_check_).
    static Task<void> exit_when_idle(SupervisorHost* self, std::stop_token stop);
    /// trim_when_quiet: waits for activity, then for two quiet seconds, then trims.
    static Task<void> trim_when_quiet(SupervisorHost* self, std::stop_token stop);
    // The state directory removed under us (supervisor_host_state_dir.cpp).
    static Task<void> watch_state_dir(SupervisorHost* self, std::stop_token stop);
    /// Is the folder at the state dir's path no longer the one we opened?
    bool state_dir_replaced() const;
    /// Records which folder is at the state dir's path now.
    void remember_state_dir();
    /// Lock, pid, folders, logs, socket, pid files and state.json, again.
    Result<void> recreate_state_dir();

    HostOptions options_;
    std::unique_ptr<LogWriter> logs_;
    std::unique_ptr<TeeSink> tee_;
    std::unique_ptr<supervisor::Supervisor> sup_;
    std::unique_ptr<ControlApi> api_;
    std::optional<SupervisorLock> lock_;
    std::unique_ptr<http::Server> server_;
    std::unique_ptr<http::Server> probes_;
    std::unique_ptr<LogFile> reins_log_;
    Channel<ShutdownReason> shutdown_{1};
    Channel<bool> idle_check_{1};  ///< a start failed: exit_when_idle looks
    Channel<bool> activity_{1};    ///< a transition or a request: trim_when_quiet waits
    std::unique_ptr<ResidentTrim> trim_;  ///< trim_when_quiet's, made in run()
    std::stop_source shutdown_source_;
    ShutdownReason shutdown_reason_ = ShutdownReason::stop_token;
    bool shutting_down_ = false;
    bool forced_ = false;
    bool armed_ = false;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    uint64_t dir_dev_ = 0;  ///< the state folder opened (st_dev, st_ino)
    uint64_t dir_ino_ = 0;
};

}  // namespace reins::control
