// SupervisorThread: reins on a thread of its own, driven from the host's
// threads — the handle a desktop app, a server or another language's
// runtime embeds to supervise its sidecars (docs/embedding.md).
//
//   reins::control::SupervisorThread::Options opts;
//   opts.queue_events = true;                        // poll event_fd() in the UI loop
//   reins::control::Outcome failed;
//   auto sup = reins::control::SupervisorThread::open(opts, &failed);
//   if (!sup) { show(failed.message); return; }
//   sup->add(api_spec);                               // or add_config_file("reins.toml")
//   auto up = sup->start({"api"}, 10s);               // blocks at most 10 s
//   if (!up) show(up.message + "\n" + up.hint);       // "port 8000 is in use by pid 812 (node)"
//   ...
//   sup.reset();                                      // stops every service, joins the thread
//
// Thread rules: every public function may be called from any thread, at any
// time, also after shutdown() (it then fails with code 3, never crashes).
// Callbacks run on reins' thread; a blocking call made from one fails at
// once (it would wait for itself) — use the callback forms there. Calls are
// carried out in the order they were made: a command on a service waits for
// the earlier ones on the same services (and those they depend on or that
// depend on them); a stop cancels the wait of a start or restart that was
// already carried out and still waits for readiness (the stop follows it).
// Nothing of libuv is in this header.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "reins/supervisor/service_spec.hpp"
#include "reins/supervisor/service_state.hpp"

namespace reins::control {

/// How a call ended: the code and the words `reins` gives for it.
struct Outcome {
    /// 0 ok; 1 not found / not running; 2 a port in use; 3 anything else
    /// (config errors, startup failures and timeouts, a shut-down handle).
    int code = 0;
    std::string kind;     ///< "" when ok; not_found, not_running, port_in_use, startup_timeout, spawn_failed, config, timeout, shut_down, failed
    std::string service;  ///< the service the failure is about, when one stands out
    std::string message;  ///< what happened ("port 8000 is in use by pid 812 (node server.js)")
    std::string hint;     ///< what to do next
    std::vector<std::string> last_output;  ///< a failed service's last lines
    /// The services the call was about, as they were when it completed
    /// (their state, pid and port: a start's "running on port 8000").
    std::vector<supervisor::ServiceStatus> services;

    explicit operator bool() const noexcept { return code == 0; }
};

/// What reins tells the host as it happens.
struct HostEvent {
    enum class Kind {
        transition,  ///< a state change, health news, a STATUS= text (the ServiceEvent)
        output,      ///< one output line of a service (Options::output_events)
        note,        ///< a human line about the services ("web: stop.pre: refused")
    };
    Kind kind = Kind::transition;
    std::string service;
    supervisor::ServiceEvent transition;  ///< Kind::transition
    std::string text;                     ///< Kind::output (the line) and Kind::note
    int stream = 1;                       ///< Kind::output: 1 stdout, 2 stderr
};

class SupervisorThread {
public:
    struct Options {
        /// "" (default): nothing on disk. A folder: the same state directory
        /// as `reins start` — a lock (one host per folder), state.json, pid
        /// files and logs; survivors of a host that was killed are stopped
        /// on open. No signal handling, no control socket unless asked.
        std::string state_dir;
        /// With state_dir: also answer on its reins.sock, so `reins status`
        /// and `reins logs` work against the host.
        bool control_socket = false;
        /// Free text kept in the lock file (a port, a window id) and shown
        /// to a second host that finds the folder taken.
        std::string lock_data;
        /// Called on reins' thread with every event; it must return quickly
        /// (supervision waits while it runs). What it throws is caught.
        std::function<void(const HostEvent&)> on_event;
        /// Queue events for take_events(); event_fd() is readable while any wait.
        bool queue_events = false;
        /// At most this many queued events; beyond it the oldest are dropped
        /// (counted in events_dropped()), so a host that stops reading never
        /// stalls the services.
        std::size_t queue_capacity = 1024;
        /// Also deliver every output line as an event.
        bool output_events = false;
        /// The environment services inherit; empty: this process's.
        std::vector<std::string> base_env;
        /// Make this process a child subreaper (orphans of the services are
        /// re-parented to it and reaped). Off by default: it would also reap
        /// the host's own grandchildren.
        bool subreaper = false;
        /// Stop every service's processes if this process dies without
        /// stopping them (a small keeper process watches it).
        bool keeper = true;
    };

    /// Starts the thread and opens the state directory (if any). Null on
    /// failure, with `*failed` (when given) saying why: the folder is taken
    /// by another host (naming its pid and lock_data), cannot be created, ...
    static std::unique_ptr<SupervisorThread> open(Options options, Outcome* failed = nullptr);

    /// shutdown(), then frees the handle.
    ~SupervisorThread();
    SupervisorThread(const SupervisorThread&) = delete;
    SupervisorThread& operator=(const SupervisorThread&) = delete;

    using Timeout = std::optional<std::chrono::milliseconds>;  ///< nullopt: wait until done
    using Done = std::function<void(Outcome)>;                 ///< runs on reins' thread

    /// Adds services (stopped), all or none: a duplicate name, an unknown
    /// dependency or a cycle changes nothing (code 3, kind "config").
    Outcome add(supervisor::ServiceSpec spec, Timeout timeout = std::nullopt);
    Outcome add(std::vector<supervisor::ServiceSpec> specs, Timeout timeout = std::nullopt);
    /// Adds the services of a reins.toml (or Procfile); every error of the
    /// file comes back in `message`, and nothing is added then.
    Outcome add_config_file(const std::string& path, Timeout timeout = std::nullopt);
    /// The same from TOML text; relative paths resolve against `dir` ("": the current folder).
    Outcome add_config_text(const std::string& toml, const std::string& dir = {}, Timeout timeout = std::nullopt);

    /// Starts `names` (empty: all) and what they depend on, and waits for
    /// readiness. A timeout leaves the start going on (code 3, kind "timeout").
    Outcome start(std::vector<std::string> names = {}, Timeout timeout = std::nullopt);
    void start(std::vector<std::string> names, Done done);
    /// Stops `names` (empty: all) — and what depends on them — through the
    /// whole stop pipeline.
    Outcome stop(std::vector<std::string> names = {}, Timeout timeout = std::nullopt);
    void stop(std::vector<std::string> names, Done done);
    /// Stops and starts `name` (closes an open circuit).
    Outcome restart(std::string name, Timeout timeout = std::nullopt);
    void restart(std::string name, Done done);

    /// Every service's status, in the order they were added. Code 3 when
    /// no answer came in time or the handle was shut down.
    Outcome status(Timeout timeout = std::chrono::seconds(5));

    /// Readable (POLLIN) while queued events wait; take_events() empties it.
    /// -1 unless Options::queue_events.
    int event_fd() const noexcept;
    /// The queued events, oldest first (at most `max`).
    std::vector<HostEvent> take_events(std::size_t max = static_cast<std::size_t>(-1));
    /// Events dropped because the queue was full.
    std::size_t events_dropped() const;
    /// Times a host callback threw (each is also reported as a note).
    std::size_t callback_failures() const;

    /// Stops every service through the whole stop pipeline (pre-stop hooks,
    /// signal, SIGKILL at the timeout) and ends the thread; idempotent. From reins'
    /// own thread (inside a callback) it only begins the shutdown.
    void shutdown();
    /// True once shutdown() began.
    bool shut_down() const;
    /// Is the caller on reins' thread (inside a callback)?
    bool on_reins_thread() const noexcept;

    struct Core;

private:
    explicit SupervisorThread(std::shared_ptr<Core> core);
    std::shared_ptr<Core> core_;
};

}  // namespace reins::control
