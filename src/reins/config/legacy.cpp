#include "reins/config/legacy.hpp"

#include <cstdint>

#include "reins/config/emit.hpp"
#include "reins/config/schema.hpp"
#include "reins/config/text.hpp"

namespace reins::config::detail {
namespace {

using supervisor::HttpAction;
using supervisor::PortSpec;

/// One legacy table ([server], [logging]...) and typed reads of its keys.
struct Section {
    Checker& c;
    const Node* table = nullptr;
    std::string name;

    const Member* get(std::string_view key) const { return table ? table->member(key) : nullptr; }
    std::string path(std::string_view key) const { return name + "." + std::string(key); }
    std::optional<int64_t> integer(std::string_view key, int64_t lo, int64_t hi) const {
        const Member* m = get(key);
        return m ? c.integer(m->value, path(key), lo, hi) : std::nullopt;
    }
    std::optional<bool> boolean(std::string_view key) const {
        const Member* m = get(key);
        return m ? c.boolean(m->value, path(key)) : std::nullopt;
    }
    std::optional<std::string> string(std::string_view key) const {
        const Member* m = get(key);
        return m ? c.string(m->value, path(key)) : std::nullopt;
    }
    /// A key reins reads but does not use: noted, shown by `check`, kept as a comment by migrate.
    void unused(std::string_view key, Config& cfg) const {
        const Member* m = get(key);
        if (!m) return;
        cfg.legacy_unused.push_back("[" + name + "] " + std::string(key) + " = " + toml_value(m->value));
        c.warning(m->key_pos, path(key), "[" + name + "] " + std::string(key) + " is not used by reins",
                  "it is kept as a comment by `reins config migrate`");
    }
};

Section section(Checker& c, const Node& root, const char* name) {
    Section s{c, nullptr, name};
    if (const Member* m = root.member(name)) s.table = c.table(m->value, name, std::string("[") + name + "]");
    return s;
}

bool loopback(const std::string& host) {
    return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace

void read_legacy(Checker& c, const Node& root, const Place& place, Config& cfg) {
    using std::chrono::seconds;
    check_unknown_keys(c, root, legacy_schema(), "");
    c.warning(Pos{}, "", "legacy single-server format (version 0): read as one service named 'server'",
              "`reins config migrate` rewrites it as version 1");
    supervisor::ServiceSpec s;
    s.name = "server";
    s.cwd = place.dir;
    s.logs.file = "logs/server.log";
    // The seeds' defaults where the v1 ones differ; the rest are equal
    // (docs/config.md, The legacy format).
    s.ready.kind = supervisor::ProbeKind::http;
    s.ready.target = "/ready";
    s.health.kind = supervisor::ProbeKind::http;
    s.health.target = "/ready";
    s.health.failures = 3;
    s.health.interval = seconds(5);
    s.stop.http = HttpAction{"POST", "/admin/shutdown"};

    Section server = section(c, root, "server");
    Section database = section(c, root, "database");
    Section logging = section(c, root, "logging");
    Section resilience = section(c, root, "resilience");

    const Member* top_cmd = root.member("command");
    const Member* server_cmd = server.get("command");
    if (top_cmd && server_cmd) {
        c.error(server_cmd->key_pos, "server.command", "server.command: the command is already set at the top level",
                "keep one of them");
    }
    if (const Member* m = top_cmd ? top_cmd : server_cmd) {
        if (auto cmd = command_value(c, m->value, top_cmd ? "command" : "server.command")) s.command = *cmd;
    } else {
        c.error(Pos{1, 1}, "command", "missing key 'command': reins needs the server's command line",
                "add command = [\"./server\", \"--port\", \"${PORT}\"] at the top of the file");
    }

    if (auto host = server.string("host")) {
        if (loopback(*host)) s.host = *host;
        else {
            c.error(server.get("host")->value.pos, "server.host",
                    "server.host: the legacy format serves on loopback only (127.0.0.1, ::1 or localhost), found " +
                        quote(*host),
                    "run `reins config migrate` and set host in [service.server] to serve elsewhere");
        }
    }
    int port = static_cast<int>(server.integer("port", 1, 65535).value_or(8000));
    int first = 8000, last = 8100;
    if (const Member* m = server.get("port_range")) {
        const Node& n = m->value;
        bool ok = n.type == Node::Type::array && n.items.size() == 2 && n.items[0].type == Node::Type::integer &&
                  n.items[1].type == Node::Type::integer && n.items[0].integer >= 1 && n.items[1].integer <= 65535 &&
                  n.items[0].integer <= n.items[1].integer;
        if (ok) {
            first = static_cast<int>(n.items[0].integer);
            last = static_cast<int>(n.items[1].integer);
        } else {
            c.expected(n, "server.port_range", "two ports [A, B] with 1 <= A <= B <= 65535");
        }
    }
    s.port = PortSpec::prefer_in(port, first, last);
    s.port.host = s.host;
    server.unused("max_connections", cfg);

    if (database.boolean("checkpoint_on_shutdown").value_or(true)) s.stop.pre = HttpAction{"POST", "/admin/checkpoint"};
    (void)database.string("filename");
    (void)database.boolean("backup_before_migration");
    database.unused("filename", cfg);
    database.unused("backup_before_migration", cfg);

    if (auto level = logging.string("level")) s.env["LOG_LEVEL"] = *level;
    if (auto dir = logging.string("directory")) s.logs.file = resolve_path("", *dir + "/server.log");
    // "mb" as the seeds computed it: MiB (so the default is v1's 10MiB).
    if (auto mb = logging.integer("max_file_size_mb", 1, 1 << 20)) s.logs.max_size = static_cast<uint64_t>(*mb) << 20;
    if (auto keep = logging.integer("retention_count", 0, 1000)) s.logs.keep = static_cast<int>(*keep);

    auto& r = s.restart;
    if (auto n = resilience.integer("max_restarts", 0, INT32_MAX)) r.max_restarts = static_cast<int>(*n);
    if (auto n = resilience.integer("restart_window_secs", 1, 365 * 86400)) r.window = seconds(*n);
    if (auto n = resilience.integer("initial_backoff_ms", 0, 3'600'000)) r.initial = Millis(*n);
    if (auto n = resilience.integer("max_backoff_ms", 0, 3'600'000)) r.max_delay = Millis(*n);
    if (r.max_delay < r.initial) {
        const Member* m = resilience.get("max_backoff_ms") ? resilience.get("max_backoff_ms") : resilience.get("initial_backoff_ms");
        c.error(m->value.pos, "resilience.max_backoff_ms", "resilience.max_backoff_ms: the backoff's max (" +
                    format_duration(r.max_delay) + ") is below its initial delay (" + format_duration(r.initial) + ")");
    }
    if (auto n = resilience.integer("startup_timeout_secs", 1, 86400)) s.ready.timeout = seconds(*n);
    if (auto n = resilience.integer("health_check_interval_secs", 1, 86400)) s.health.interval = seconds(*n);
    if (auto n = resilience.integer("shutdown_timeout_secs", 0, 86400)) s.stop.timeout = seconds(*n);
    cfg.services.push_back(std::move(s));
}

}  // namespace reins::config::detail
