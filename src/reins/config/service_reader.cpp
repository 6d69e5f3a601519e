// A [service.NAME] table (merged with [defaults]) → ServiceSpec: command,
// cwd, env, port, host, logs, depends_on. Probes, restart and stop are in
// probe_reader.cpp.
#include <filesystem>
#include <set>

#include "reins/config/reader.hpp"
#include "reins/config/text.hpp"
#include "reins/config/values.hpp"

namespace reins::config::detail {
namespace {

using supervisor::CommandSpec;
using supervisor::PortSpec;

void read_command(Checker& c, const Layers& l, ServiceRead& r) {
    auto hit = l.get("command");
    if (!hit) {
        c.error(r.pos, l.path() + ".command", "missing key 'command' in [" + l.path() + "]",
                "add the program to run: command = \"./server --port $PORT\" or an array");
        return;
    }
    if (auto cmd = command_value(c, *hit->node, hit->path)) r.spec.command = std::move(*cmd);
}

void read_env(Checker& c, const Layers& l, const Place& place, ServiceRead& r) {
    // env_file values first, then `env` (defaults', then the service's) on top.
    if (auto hit = l.get("env_file")) {
        std::vector<const Node*> files;
        if (hit->node->type == Node::Type::array) {
            for (const auto& item : hit->node->items) files.push_back(&item);
        } else {
            files.push_back(hit->node);
        }
        for (const Node* f : files) {
            auto written = c.string(*f, hit->path);
            if (!written) continue;
            const auto& entry = env_file(c, place, *written);
            if (!entry.ok) {
                c.error(f->pos, hit->path,
                        hit->path + ": cannot read " + resolve_path(place.dir, *written) + ": " + entry.error,
                        "create the file or fix the path (relative paths start at the config file's folder)");
                continue;
            }
            for (const auto& [k, v] : entry.values) r.spec.env[k] = v;
        }
    }
    for (const auto& hit : l.all("env")) {
        const Node* t = c.table(*hit.node, hit.path, "{ RUST_LOG = \"info\" }");
        if (!t) continue;
        for (const auto& m : t->members) {
            std::string key = hit.path + "." + key_text(m.key);
            if (!is_env_name(m.key)) {
                c.error(m.key_pos, key, key + ": expected a variable name (letters, digits and _, not starting with a digit), found " + quote(m.key));
                continue;
            }
            const Node& v = m.value;
            if (v.type == Node::Type::string) {
                if (auto s = c.string(v, key, true)) r.spec.env[m.key] = *s;
            } else if (v.type == Node::Type::integer) {
                r.spec.env[m.key] = std::to_string(v.integer);
            } else if (v.type == Node::Type::boolean) {
                r.spec.env[m.key] = v.boolean ? "true" : "false";
            } else {
                c.expected(v, key, "a string (or an integer or boolean, exported as text)");
            }
        }
    }
    if (auto hit = l.get("env_clear"))
        if (auto b = c.boolean(*hit->node, hit->path)) r.spec.env_clear = *b;
}

std::optional<PortSpec> read_port(Checker& c, const Hit& hit) {
    const Node& n = *hit.node;
    const std::string what = "a port 1-65535, a range like \"8000-8100\", \"auto\", or { prefer = P, range = \"A-B\" }";
    if (n.type == Node::Type::integer) {
        if (auto p = c.integer(n, hit.path, 1, 65535)) return PortSpec::fixed_port(static_cast<int>(*p));
        return std::nullopt;
    }
    if (n.type == Node::Type::string) {
        auto p = supervisor::parse_port_spec(n.str);
        if (!p) {
            c.expected(n, hit.path, what);
            return std::nullopt;
        }
        return *p;
    }
    if (!n.is_table()) {
        c.expected(n, hit.path, what);
        return std::nullopt;
    }
    const Node* range = n.find("range");
    const Node* prefer = n.find("prefer");
    std::optional<PortSpec> rs;
    if (range) {
        Result<PortSpec> p = range->type == Node::Type::string ? supervisor::parse_port_spec(range->str)
                                                              : Result<PortSpec>(fail(Errc::config));
        if (!p || p->kind != PortSpec::Kind::range) {
            c.expected(*range, hit.path + ".range", "a port range like \"8000-8100\"");
            return std::nullopt;
        }
        rs = *p;
    }
    if (!prefer) {
        if (!range) c.error(n.pos, hit.path, hit.path + ": expected " + what + ", found an empty table");
        return rs;
    }
    auto p = c.integer(*prefer, hit.path + ".prefer", 1, 65535);
    if (!p) return std::nullopt;
    if (!range) {
        c.error(prefer->pos, hit.path + ".range", hit.path + ": `prefer` needs a `range` to fall back on",
                "add range = \"A-B\", or write port = " + std::to_string(*p) + " for exactly that port");
        return std::nullopt;
    }
    return PortSpec::prefer_in(static_cast<int>(*p), rs->first, rs->last);
}

void read_deps(Checker& c, const Layers& l, ServiceRead& r) {
    auto hit = l.get("depends_on");
    if (!hit) return;
    const Node& n = *hit->node;
    std::set<std::string> seen;
    auto add = [&](const std::string& name, Pos pos, const std::string& path, supervisor::Dependency::Condition cond) {
        if (!seen.insert(name).second) {
            c.error(pos, path, path + ": " + quote(name) + " is listed twice");
            return;
        }
        r.spec.depends_on.push_back(supervisor::Dependency{name, cond});
        r.deps.push_back(DepRef{name, pos, path});
    };
    if (n.type == Node::Type::array) {
        for (std::size_t i = 0; i < n.items.size(); ++i) {
            std::string path = hit->path + "[" + std::to_string(i) + "]";
            if (auto s = c.string(n.items[i], path)) add(*s, n.items[i].pos, path, supervisor::Dependency::Condition::ready);
        }
    } else if (n.is_table()) {
        for (const auto& m : n.members) {
            std::string path = hit->path + "." + key_text(m.key);
            auto s = c.string(m.value, path);
            if (!s) continue;
            if (*s == "ready") add(m.key, m.key_pos, path, supervisor::Dependency::Condition::ready);
            else if (*s == "started") add(m.key, m.key_pos, path, supervisor::Dependency::Condition::started);
            else c.expected(m.value, path, "\"ready\" or \"started\"");
        }
    } else {
        c.expected(n, hit->path, "an array of service names, or a table like { api = \"ready\" }");
    }
}

void read_logs(Checker& c, const Layers& l, ServiceRead& r) {
    Layers logs = l.sub("logs");
    for (const auto& hit : l.all("logs", true)) c.table(*hit.node, hit.path, "{ max_size = \"10MiB\" }");
    if (auto h = logs.get("file"))
        if (auto s = c.string(*h->node, h->path)) r.spec.logs.file = *s;
    if (auto h = logs.get("max_size"))
        if (auto s = c.size(*h->node, h->path, 1)) r.spec.logs.max_size = *s;
    if (auto h = logs.get("keep"))
        if (auto k = c.integer(*h->node, h->path, 0, 1000)) r.spec.logs.keep = static_cast<int>(*k);
}

/// A probe or request on a path (not a full URL) needs the service's port.
void need_port(Checker& c, const ServiceRead& r, const Layers& l, std::string_view table, std::string_view key,
               std::string_view what) {
    // A `port` that could not be read was reported already: no second error.
    if (r.spec.port.kind != PortSpec::Kind::none || l.get("port")) return;
    auto hit = l.sub(table).get(key);
    if (!hit) return;
    std::string who = hit->from_defaults ? " (service " + r.spec.name + ")" : "";
    c.error(hit->key_pos, hit->path, hit->path + ": " + std::string(what) + " needs the service's port, but it has none" + who,
            "set `port` (\"auto\" lets the kernel pick one), or give a full http:// URL");
}

}  // namespace

std::optional<CommandSpec> command_value(Checker& c, const Node& n, const std::string& path) {
    if (n.type == Node::Type::string) {
        if (auto s = c.string(n, path)) return CommandSpec{*s};
        return std::nullopt;
    }
    if (n.type == Node::Type::array && !n.items.empty()) {
        std::vector<std::string> argv;
        for (std::size_t i = 0; i < n.items.size(); ++i) {
            auto s = c.string(n.items[i], path + "[" + std::to_string(i) + "]", i != 0);
            if (!s) return std::nullopt;
            argv.push_back(*s);
        }
        return CommandSpec{std::move(argv)};
    }
    c.expected(n, path, "a command string (run by /bin/sh -c) or a non-empty array of strings");
    return std::nullopt;
}

ServiceRead read_service(Checker& c, const std::string& name, const Layers& l, Pos pos, const Place& place) {
    ServiceRead r;
    r.pos = pos;
    r.spec.name = name;
    r.spec.cwd = place.dir;
    r.spec.logs.file = "logs/" + name + ".log";
    read_command(c, l, r);
    if (auto hit = l.get("cwd")) {
        if (auto s = c.string(*hit->node, hit->path)) {
            r.spec.cwd = resolve_path(place.dir, *s);
            std::error_code ec;
            if (!std::filesystem::is_directory(r.spec.cwd, ec))
                c.warning(hit->node->pos, hit->path, hit->path + ": folder " + r.spec.cwd + " does not exist (yet)");
        }
    }
    read_env(c, l, place, r);
    if (auto hit = l.get("host")) {
        if (auto s = c.string(*hit->node, hit->path)) {
            if (s->find_first_of(" \t/") != std::string::npos) c.expected(*hit->node, hit->path, "a host name or address");
            else r.spec.host = *s;
        }
    }
    if (auto hit = l.get("port"))
        if (auto p = read_port(c, *hit)) r.spec.port = *p;
    r.spec.port.host = r.spec.host;
    if (auto hit = l.get("port_env")) {
        if (auto s = c.string(*hit->node, hit->path)) {
            if (!is_env_name(*s)) c.expected(*hit->node, hit->path, "a variable name (letters, digits and _)");
            else if (r.spec.port.kind == PortSpec::Kind::none)
                c.error(hit->key_pos, hit->path, hit->path + ": port_env names the port variable, but the service" +
                        (hit->from_defaults ? " " + name : std::string()) + " has no port",
                        "set `port`, or remove port_env");
            else r.spec.port_env = *s;
        }
    }
    read_ready(c, l, r.spec);
    read_health(c, l, r.spec);
    read_restart(c, l, r.spec);
    read_stop(c, l, r.spec);
    read_logs(c, l, r);
    read_deps(c, l, r);

    using supervisor::ProbeKind;
    if (r.spec.ready.kind == ProbeKind::tcp) need_port(c, r, l, "ready", "tcp", "a tcp probe");
    if (r.spec.ready.kind == ProbeKind::http && is_path_target(r.spec.ready.target)) need_port(c, r, l, "ready", "http", "an http probe on a path");
    if (r.spec.health.kind == ProbeKind::tcp) need_port(c, r, l, "health", "tcp", "a tcp probe");
    if (r.spec.health.kind == ProbeKind::http && is_path_target(r.spec.health.target)) need_port(c, r, l, "health", "http", "an http probe on a path");
    if (r.spec.stop.pre && is_path_target(r.spec.stop.pre->target)) need_port(c, r, l, "stop", "pre", "a request on a path");
    if (r.spec.stop.http && is_path_target(r.spec.stop.http->target)) need_port(c, r, l, "stop", "http", "a request on a path");
    return r;
}

}  // namespace reins::config::detail
