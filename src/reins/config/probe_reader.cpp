// The [service.NAME.ready], .health, .restart and .stop tables (merged with
// [defaults]) → ReadySpec, HealthSpec, RestartSpec, StopSpec.
#include <algorithm>
#include <cstdint>

#include "reins/config/reader.hpp"
#include "reins/config/text.hpp"
#include "reins/config/values.hpp"

namespace reins::config::detail {
namespace {

using supervisor::ProbeKind;

/// Reports a sub-table (ready, health, ...) written as something else.
void check_table(Checker& c, const Layers& l, std::string_view key, const std::string& example) {
    for (const auto& hit : l.all(key, true)) c.table(*hit.node, hit.path, example);
}

std::string join(const std::vector<std::string_view>& words) {
    std::string out;
    for (std::size_t i = 0; i < words.size(); ++i) {
        if (i) out += i + 1 == words.size() ? " and " : ", ";
        out += words[i];
    }
    return out;
}

/// The probe kind chosen in `l` among `kinds` (at most one), with its target.
struct Chosen {
    ProbeKind kind = ProbeKind::none;
    std::string target;
    std::string key;
    Millis watchdog{0};
};

Chosen read_kind(Checker& c, const Layers& l, const std::vector<std::string_view>& kinds, const char* table) {
    Chosen out;
    for (const auto& [key, hit] : l.choice(kinds)) {
        const Node& n = *hit.node;
        Chosen cur;
        cur.key = key;
        if (key == "tcp" || key == "notify") {
            auto b = c.boolean(n, hit.path);
            if (!b || !*b) continue;  // `tcp = false`: no probe (and no default one)
            cur.kind = key == "tcp" ? ProbeKind::tcp : ProbeKind::notify;
        } else if (key == "watchdog") {
            auto d = c.duration(n, hit.path, Millis{1});
            if (!d) continue;
            cur.kind = ProbeKind::watchdog;
            cur.watchdog = *d;
        } else {
            auto s = c.string(n, hit.path);
            if (!s) continue;
            if (key == "http") {
                if (auto ok = check_http_target(*s); !ok) {
                    c.error(n.pos, hit.path, hit.path + ": " + ok.error().context);
                    continue;
                }
                cur.kind = ProbeKind::http;
            } else if (key == "log") {
                if (auto ok = check_regex(*s); !ok) {
                    c.error(n.pos, hit.path, hit.path + ": " + ok.error().context);
                    continue;
                }
                cur.kind = ProbeKind::log;
            } else {
                cur.kind = ProbeKind::exec;
            }
            cur.target = *s;
        }
        if (out.kind != ProbeKind::none) {
            std::string table_path = hit.path.substr(0, hit.path.rfind('.'));
            c.error(hit.key_pos, hit.path,
                    table_path + ": at most one " + table + " probe of " + join(kinds) + " can be set; found " +
                        out.key + " and " + key,
                    "keep one of them");
            continue;
        }
        out = std::move(cur);
    }
    return out;
}

template <class F>
void with(const Layers& l, std::string_view key, F&& f) {
    if (auto hit = l.get(key)) f(*hit);
}

}  // namespace

void read_ready(Checker& c, const Layers& l, supervisor::ServiceSpec& s) {
    check_table(c, l, "ready", "{ http = \"/ready\" }");
    Layers r = l.sub("ready");
    Chosen k = read_kind(c, r, {"http", "tcp", "notify", "log", "exec"}, "readiness");
    s.ready.kind = k.kind;
    s.ready.target = k.target;
    with(r, "timeout", [&](const Hit& h) { if (auto d = c.duration(*h.node, h.path, Millis{1})) s.ready.timeout = *d; });
    with(r, "interval", [&](const Hit& h) { if (auto d = c.duration(*h.node, h.path, Millis{1})) s.ready.interval = *d; });
    with(r, "probe_timeout", [&](const Hit& h) { if (auto d = c.duration(*h.node, h.path, Millis{1})) s.ready.probe_timeout = *d; });
    with(r, "after", [&](const Hit& h) {
        auto d = c.duration(*h.node, h.path);
        if (!d) return;
        if (k.kind == ProbeKind::none) {
            s.ready.after = *d;
        } else if (!h.from_defaults) {
            // From [defaults] it simply does not apply to a service with a probe.
            c.error(h.key_pos, h.path, h.path + ": `after` applies only to a service without a readiness probe, "
                                               "but this one has " + k.key,
                    "remove `after`, or the probe");
        }
    });
}

void read_health(Checker& c, const Layers& l, supervisor::ServiceSpec& s) {
    check_table(c, l, "health", "{ http = \"/health\" }");
    Layers h = l.sub("health");
    Chosen k = read_kind(c, h, {"http", "tcp", "exec", "watchdog"}, "health");
    s.health.kind = k.kind;
    s.health.target = k.target;
    s.health.watchdog = k.watchdog;
    with(h, "interval", [&](const Hit& x) { if (auto d = c.duration(*x.node, x.path, Millis{1})) s.health.interval = *d; });
    with(h, "timeout", [&](const Hit& x) { if (auto d = c.duration(*x.node, x.path, Millis{1})) s.health.timeout = *d; });
    with(h, "failures", [&](const Hit& x) { if (auto n = c.integer(*x.node, x.path, 1, 1000)) s.health.failures = static_cast<int>(*n); });
}

void read_restart(Checker& c, const Layers& l, supervisor::ServiceSpec& s) {
    auto& r = s.restart;
    auto policy = [&](const Node& n, const std::string& path) {
        auto text = c.string(n, path);
        if (!text) return;
        auto m = parse_restart_mode(*text);
        if (m) r.mode = *m;
        else c.error(n.pos, path, path + ": " + m.error().context);
    };
    // `restart = "always"` is short for restart.policy (it replaces a default policy).
    auto top = l.get("restart");
    bool short_form = top && top->node->type == Node::Type::string;
    if (short_form) policy(*top->node, top->path);
    for (const auto& hit : l.all("restart", true))
        if (hit.node->type != Node::Type::string)
            c.expected(*hit.node, hit.path, "a table like { policy = \"on-failure\" }, or a policy string");
    Layers rl = l.sub("restart");
    if (!short_form) with(rl, "policy", [&](const Hit& h) { policy(*h.node, h.path); });
    with(rl, "success_codes", [&](const Hit& h) {
        if (h.node->type != Node::Type::array) {
            c.expected(*h.node, h.path, "an array of exit codes like [0, 143]");
            return;
        }
        std::vector<int> codes;
        for (std::size_t i = 0; i < h.node->items.size(); ++i) {
            auto v = c.integer(h.node->items[i], h.path + "[" + std::to_string(i) + "]", 0, 255);
            if (!v) return;
            codes.push_back(static_cast<int>(*v));
        }
        r.success_codes = std::move(codes);
    });
    with(rl, "max", [&](const Hit& h) { if (auto n = c.integer(*h.node, h.path, 0, INT32_MAX)) r.max_restarts = static_cast<int>(*n); });
    with(rl, "window", [&](const Hit& h) { if (auto d = c.duration(*h.node, h.path, Millis{1})) r.window = *d; });
    check_table(c, rl, "backoff", "{ initial = \"100ms\", max = \"30s\" }");
    Layers b = rl.sub("backoff");
    std::optional<Hit> max_hit, initial_hit;
    with(b, "initial", [&](const Hit& h) {
        if (auto d = c.duration(*h.node, h.path)) {
            r.initial = *d;
            initial_hit = h;
        }
    });
    with(b, "max", [&](const Hit& h) {
        if (auto d = c.duration(*h.node, h.path)) {
            r.max_delay = *d;
            max_hit = h;
        }
    });
    with(b, "multiplier", [&](const Hit& h) { if (auto v = c.number(*h.node, h.path, 1.0, 100.0)) r.multiplier = *v; });
    with(b, "jitter", [&](const Hit& h) { if (auto v = c.number(*h.node, h.path, 0.0, 1.0)) r.jitter = *v; });
    if (r.max_delay < r.initial && (max_hit || initial_hit)) {
        // At the service's own value when one of the two is; else at [defaults].
        const Hit& at = max_hit && (!max_hit->from_defaults || !initial_hit || initial_hit->from_defaults)
                            ? *max_hit : *initial_hit;
        std::string who = at.from_defaults ? " for service " + s.name : "";
        c.error(at.node->pos, at.path,
                at.path + ": the backoff's max (" + format_duration(r.max_delay) + ") is below its initial delay (" +
                    format_duration(r.initial) + ")" + who);
    }
}

void read_stop(Checker& c, const Layers& l, supervisor::ServiceSpec& s) {
    check_table(c, l, "stop", "{ signal = \"TERM\", timeout = \"10s\" }");
    Layers st = l.sub("stop");
    auto action = [&](const Hit& h) -> std::optional<supervisor::HttpAction> {
        auto text = c.string(*h.node, h.path);
        if (!text) return std::nullopt;
        auto a = parse_http_action(*text);
        if (!a) {
            c.error(h.node->pos, h.path, h.path + ": " + a.error().context);
            return std::nullopt;
        }
        return *a;
    };
    auto pre = st.choice({"pre", "pre_exec"});
    for (std::size_t i = 0; i < pre.size(); ++i) {
        const auto& [key, hit] = pre[i];
        if (i > 0) {
            c.error(hit.key_pos, hit.path, hit.path + ": set either stop.pre (a request) or stop.pre_exec (a command), not both");
            break;
        }
        if (key == "pre") s.stop.pre = action(hit);
        else if (auto cmd = c.string(*hit.node, hit.path)) s.stop.pre_exec = *cmd;
    }
    with(st, "pre_timeout", [&](const Hit& h) { if (auto d = c.duration(*h.node, h.path, Millis{1})) s.stop.pre_timeout = *d; });
    with(st, "http", [&](const Hit& h) { s.stop.http = action(h); });
    with(st, "signal", [&](const Hit& h) {
        if (h.node->type == Node::Type::integer) {
            if (auto n = c.integer(*h.node, h.path, 1, 64)) s.stop.signal = static_cast<int>(*n);
            return;
        }
        auto text = c.string(*h.node, h.path);
        if (!text) return;
        auto sig = parse_signal(*text);
        if (sig) s.stop.signal = *sig;
        else c.error(h.node->pos, h.path, h.path + ": " + sig.error().context);
    });
    with(st, "timeout", [&](const Hit& h) { if (auto d = c.duration(*h.node, h.path)) s.stop.timeout = *d; });
    with(st, "hooks_when_unhealthy", [&](const Hit& h) {
        if (auto b = c.boolean(*h.node, h.path)) s.stop.hooks_when_unhealthy = *b;
    });
}

}  // namespace reins::config::detail
