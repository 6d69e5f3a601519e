// Config → version 1 document tree (every key, or only the non-defaults).
#include <filesystem>

#include "reins/config/emit.hpp"
#include "reins/config/units.hpp"
#include "reins/config/values.hpp"

namespace reins::config {
namespace {

using supervisor::ProbeKind;
using supervisor::PortSpec;
using supervisor::ServiceSpec;

Node make_float(double v) {
    Node n;
    n.type = Node::Type::floating;
    n.floating = v;
    return n;
}

Node duration(Millis d) { return make_string(format_duration(d)); }

Node size(uint64_t bytes) {
    std::string s = format_size(bytes);
    if (s.find_first_not_of("0123456789") == std::string::npos) return make_integer(static_cast<int64_t>(bytes));
    return make_string(s);
}

Node command(const supervisor::CommandSpec& c) {
    if (c.is_shell()) return make_string(std::get<0>(c.value));
    Node a = make_array();
    for (const auto& s : std::get<1>(c.value)) a.items.push_back(make_string(s));
    return a;
}

Node port(const PortSpec& p) {
    auto range = std::to_string(p.first) + "-" + std::to_string(p.last);
    switch (p.kind) {
    case PortSpec::Kind::fixed: return make_integer(p.port);
    case PortSpec::Kind::range: return make_string(range);
    case PortSpec::Kind::automatic: return make_string("auto");
    case PortSpec::Kind::prefer: {
        Node t = make_table(true);
        add(t, "prefer", make_integer(p.port));
        add(t, "range", make_string(range));
        return t;
    }
    case PortSpec::Kind::none: break;
    }
    return make_string("none");
}

std::string_view kind_key(ProbeKind k) {
    switch (k) {
    case ProbeKind::http: return "http";
    case ProbeKind::tcp: return "tcp";
    case ProbeKind::notify: return "notify";
    case ProbeKind::log: return "log";
    case ProbeKind::exec: return "exec";
    case ProbeKind::watchdog: return "watchdog";
    case ProbeKind::none: break;
    }
    return "";
}

/// Adds `key = value` when writing every key, or when it differs from the default.
struct Writer {
    bool all;
    template <class T>
    void put(Node& t, const char* key, const T& value, const T& def, Node node) const {
        if (all || !(value == def)) add(t, key, std::move(node));
    }
};

void probe_kind(Node& t, ProbeKind kind, const std::string& target, Millis watchdog) {
    if (kind == ProbeKind::none) return;
    if (kind == ProbeKind::tcp || kind == ProbeKind::notify) add(t, std::string(kind_key(kind)), make_bool(true));
    else if (kind == ProbeKind::watchdog) add(t, "watchdog", duration(watchdog));
    else add(t, std::string(kind_key(kind)), make_string(target));
}

/// Adds sub-table `key` to `svc` unless it came out empty (minimal mode).
void attach(Node& svc, const char* key, Node t, bool all) {
    if (all || !t.members.empty()) add(svc, key, std::move(t));
}

Node service(const Config& cfg, const ServiceSpec& s, bool all) {
    ServiceSpec d;  // the defaults, as this service would have them
    d.name = s.name;
    d.cwd = cfg.dir;
    d.logs.file = "logs/" + s.name + ".log";
    Writer w{all};
    Node t = make_table();
    add(t, "command", command(s.command));
    std::string cwd = s.cwd;
    if (!all) {
        auto rel = std::filesystem::path(s.cwd).lexically_relative(cfg.dir).string();
        if (!rel.empty() && rel.rfind("..", 0) != 0) cwd = rel;
    }
    w.put(t, "cwd", s.cwd, d.cwd, make_string(cwd));
    w.put(t, "env_clear", s.env_clear, d.env_clear, make_bool(s.env_clear));
    if (s.port.kind != PortSpec::Kind::none) add(t, "port", port(s.port));
    else if (all) note(t, "port: none (no PORT is exported)");
    if (!s.port_env.empty()) add(t, "port_env", make_string(s.port_env));
    w.put(t, "host", s.host, d.host, make_string(s.host));
    bool all_ready = true;
    for (const auto& dep : s.depends_on) all_ready = all_ready && dep.condition == supervisor::Dependency::Condition::ready;
    if (all_ready && (all || !s.depends_on.empty())) {
        Node a = make_array();
        for (const auto& dep : s.depends_on) a.items.push_back(make_string(dep.name));
        add(t, "depends_on", std::move(a));
    } else if (!all_ready) {
        Node deps = make_table(true);
        for (const auto& dep : s.depends_on)
            add(deps, dep.name, make_string(dep.condition == supervisor::Dependency::Condition::ready ? "ready" : "started"));
        add(t, "depends_on", std::move(deps));
    }
    if (!s.env.empty() || all) {
        Node env = make_table(s.env.empty());
        for (const auto& [k, v] : s.env) add(env, k, make_string(v));
        add(t, "env", std::move(env));
    }

    Node ready = make_table();
    probe_kind(ready, s.ready.kind, s.ready.target, Millis{0});
    if (s.ready.kind == ProbeKind::none && all) note(ready, "no readiness probe: running once spawned" +
        std::string(s.ready.after.count() ? " and up for `after`" : ""));
    w.put(ready, "timeout", s.ready.timeout, d.ready.timeout, duration(s.ready.timeout));
    w.put(ready, "interval", s.ready.interval, d.ready.interval, duration(s.ready.interval));
    w.put(ready, "probe_timeout", s.ready.probe_timeout, d.ready.probe_timeout, duration(s.ready.probe_timeout));
    if (s.ready.kind == ProbeKind::none) w.put(ready, "after", s.ready.after, d.ready.after, duration(s.ready.after));
    attach(t, "ready", std::move(ready), all);

    Node health = make_table();
    probe_kind(health, s.health.kind, s.health.target, s.health.watchdog);
    if (s.health.kind == ProbeKind::none && all) note(health, "no health probe");
    w.put(health, "interval", s.health.interval, d.health.interval, duration(s.health.interval));
    w.put(health, "timeout", s.health.timeout, d.health.timeout, duration(s.health.timeout));
    w.put(health, "failures", s.health.failures, d.health.failures, make_integer(s.health.failures));
    attach(t, "health", std::move(health), all);

    const auto& r = s.restart;
    Node restart = make_table();
    w.put(restart, "policy", r.mode, d.restart.mode, make_string(std::string(to_string(r.mode))));
    Node codes = make_array();
    for (int c : r.success_codes) codes.items.push_back(make_integer(c));
    w.put(restart, "success_codes", r.success_codes, d.restart.success_codes, std::move(codes));
    w.put(restart, "max", r.max_restarts, d.restart.max_restarts, make_integer(r.max_restarts));
    w.put(restart, "window", r.window, d.restart.window, duration(r.window));
    Node backoff = make_table(true);
    w.put(backoff, "initial", r.initial, d.restart.initial, duration(r.initial));
    w.put(backoff, "max", r.max_delay, d.restart.max_delay, duration(r.max_delay));
    w.put(backoff, "multiplier", r.multiplier, d.restart.multiplier, make_float(r.multiplier));
    w.put(backoff, "jitter", r.jitter, d.restart.jitter, make_float(r.jitter));
    if (all || !backoff.members.empty()) add(restart, "backoff", std::move(backoff));
    attach(t, "restart", std::move(restart), all);

    Node stop = make_table();
    if (s.stop.pre) add(stop, "pre", make_string(to_string(*s.stop.pre)));
    if (!s.stop.pre_exec.empty()) add(stop, "pre_exec", make_string(s.stop.pre_exec));
    w.put(stop, "pre_timeout", s.stop.pre_timeout, d.stop.pre_timeout, duration(s.stop.pre_timeout));
    if (s.stop.http) add(stop, "http", make_string(to_string(*s.stop.http)));
    w.put(stop, "signal", s.stop.signal, d.stop.signal, make_string(signal_name(s.stop.signal)));
    w.put(stop, "timeout", s.stop.timeout, d.stop.timeout, duration(s.stop.timeout));
    w.put(stop, "hooks_when_unhealthy", s.stop.hooks_when_unhealthy, d.stop.hooks_when_unhealthy,
          make_bool(s.stop.hooks_when_unhealthy));
    attach(t, "stop", std::move(stop), all);

    Node logs = make_table();
    w.put(logs, "file", s.logs.file, d.logs.file, make_string(s.logs.file));
    w.put(logs, "max_size", s.logs.max_size, d.logs.max_size, size(s.logs.max_size));
    w.put(logs, "keep", s.logs.keep, d.logs.keep, make_integer(s.logs.keep));
    attach(t, "logs", std::move(logs), all);
    return t;
}

}  // namespace

Node to_document(const Config& cfg, EmitMode mode) {
    bool all = mode == EmitMode::effective;
    Node doc = make_table();
    add(doc, "version", make_integer(current_version));
    Node sup = make_table();
    if (!cfg.supervisor.listen.empty()) add(sup, "listen", make_string(cfg.supervisor.listen));
    else if (all) note(sup, "listen: off (no TCP /live and /ready)");
    if (all || cfg.supervisor.allow_remote) add(sup, "allow_remote", make_bool(cfg.supervisor.allow_remote));
    if (all || !sup.members.empty()) add(doc, "supervisor", std::move(sup));
    Node services = make_table();
    for (const auto& s : cfg.services) add(services, s.name, service(cfg, s, all));
    add(doc, "service", std::move(services));
    return doc;
}

}  // namespace reins::config
