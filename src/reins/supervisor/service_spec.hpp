// ServiceSpec: everything the engine needs to know about one service, as
// plain values built in code (the config layer builds them from reins.toml;
// an embedding application builds them directly). Defaults are docs/config.md's.
#pragma once

#include <chrono>
#include <csignal>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "reins/supervisor/port_allocator.hpp"
#include "reins/supervisor/restart_policy.hpp"

namespace reins::supervisor {

/// A shell string (run by /bin/sh -c) or an argv (exec'd directly; "$PORT"
/// and "${PORT}" in its elements are replaced by the chosen port).
struct CommandSpec {
    std::variant<std::string, std::vector<std::string>> value;
    bool is_shell() const { return value.index() == 0; }
};

/// One probe kind, for readiness or liveness.
enum class ProbeKind {
    none,      ///< ready once spawned (readiness only; see ReadySpec::after)
    tcp,       ///< connect to host:port
    http,      ///< GET a path (or full URL): 200-399 is success
    exec,      ///< a shell command exits 0
    log,       ///< a line of output matches an RE2 regex (readiness only; log_pattern.hpp)
    notify,    ///< sd_notify READY=1 (readiness only)
    watchdog,  ///< sd_notify WATCHDOG=1 within the deadline (liveness only)
};

std::string_view to_string(ProbeKind k) noexcept;

/// `ready`: when a starting service counts as running (docs/config.md, `ready`).
struct ReadySpec {
    ProbeKind kind = ProbeKind::none;
    std::string target;             ///< http path/URL, exec command or log regex
    Millis timeout{30000};          ///< startup deadline
    Millis interval{1};             ///< the shortest wait between probes (the first retry)
    Millis max_interval{1000};      ///< the longest: waits grow with the time since the first probe
    Millis probe_timeout{1000};     ///< one probe's own deadline
    Millis after{0};                ///< kind none: must stay up this long first
};

/// `health`: liveness after running (docs/config.md, `health`).
struct HealthSpec {
    ProbeKind kind = ProbeKind::none;
    std::string target;
    Millis interval{5000};
    Millis timeout{5000};
    int failures = 3;               ///< consecutive failures that make it unhealthy
    Millis watchdog{0};             ///< kind watchdog: WATCHDOG_USEC deadline
};

/// An HTTP request made during a stop ("POST /admin/shutdown").
struct HttpAction {
    std::string method = "POST";
    std::string target;  ///< path on the service's port, or a full URL
};

/// `stop`: the escalation of docs/config.md, `stop`.
struct StopSpec {
    std::optional<HttpAction> pre;   ///< step 1: checkpoint request…
    std::string pre_exec;            ///< …or command (shell)
    Millis pre_timeout{2000};        ///< step 1's own short deadline
    std::optional<HttpAction> http;  ///< step 2: graceful shutdown request
    int signal = SIGTERM;            ///< step 3
    Millis timeout{10000};           ///< grace from step 1 until SIGKILL
    /// A restart after a liveness failure (health probes failed past their
    /// threshold, a missed watchdog) skips steps 1 and 2 — a hung service
    /// answers neither, and waiting out their deadlines only delays its
    /// restart — unless this is set. Manual stops and restarts run them.
    bool hooks_when_unhealthy = false;
};

/// `logs`: where the output goes (used by the log writer the sink feeds).
struct LogSpec {
    std::string file;                       ///< default logs/NAME.log in the state dir
    uint64_t max_size = 10ull * 1024 * 1024;
    int keep = 5;
};

/// `depends_on`: start only after these are running (or just started).
struct Dependency {
    enum class Condition { ready, started };
    std::string name;
    Condition condition = Condition::ready;
};

struct ServiceSpec {
    std::string name;
    CommandSpec command;
    std::string cwd;                          ///< empty: the supervisor's cwd
    std::map<std::string, std::string> env;   ///< added to (or replacing) the environment
    bool env_clear = false;                   ///< start empty (PATH, HOME, USER, LANG kept)
    PortSpec port;                            ///< exported as PORT (and port_env)
    std::string port_env;
    std::string host = "127.0.0.1";           ///< probe host
    ReadySpec ready;
    HealthSpec health;
    RestartSpec restart;
    StopSpec stop;
    LogSpec logs;
    std::vector<Dependency> depends_on;
};

}  // namespace reins::supervisor
