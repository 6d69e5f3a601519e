#include "reins/config/service_flags.hpp"

#include <cctype>
#include <filesystem>

#include "reins/config/config.hpp"
#include "reins/config/envfile.hpp"
#include "reins/config/text.hpp"
#include "reins/config/units.hpp"
#include "reins/config/values.hpp"

namespace reins::config {

namespace {

Error flag_error(std::string_view flag, std::string_view what) {
    return Error{make_error_code(Errc::config), "--" + std::string(flag) + ": " + std::string(what)};
}

std::string absolute_in(const std::string& base, const std::string& p) {
    std::error_code ec;
    return std::filesystem::absolute(std::filesystem::path(base) / p, ec).lexically_normal().string();
}

Result<int> positive_int(std::string_view flag, const std::string& v) {
    bool digits = !v.empty() && v.size() <= 6 && v.find_first_not_of("0123456789") == std::string::npos;
    if (!digits) return fail(flag_error(flag, "expected a whole number, found " + quote_bytes(v)));
    return std::stoi(v);
}

Result<Millis> duration(std::string_view flag, const std::string& v) {
    auto d = parse_duration(v);
    if (!d) return fail(flag_error(flag, "expected a duration such as 250ms, 5s, 2m, found " + quote_bytes(v)));
    return *d;
}

}  // namespace

const std::vector<std::string_view>& service_flag_names() {
    static const std::vector<std::string_view> names{
        "name", "port", "ready", "health", "restart", "startup-timeout", "stop-timeout",
        "stop-signal", "max-restarts", "restart-window", "env", "env-file", "cwd"};
    return names;
}

Result<void> apply_flags(supervisor::ServiceSpec& out, const FlagValues& flags, const std::string& base_dir) {
    using supervisor::ProbeKind;
    supervisor::ServiceSpec spec = out;
    auto last = [&](std::string_view name) -> const std::string* {
        auto it = flags.find(name);
        return it == flags.end() || it->second.empty() ? nullptr : &it->second.back();
    };
    if (auto v = last("name")) {
        if (!is_service_name(*v))
            return fail(flag_error("name", check_service_name(*v).error().context));
        spec.name = *v;
    }
    if (auto v = last("cwd")) spec.cwd = absolute_in(base_dir, *v);
    if (auto v = last("port")) {
        auto p = supervisor::parse_port_spec(*v);
        if (!p) return fail(flag_error("port", "expected auto, a port or a range A-B, found " + quote_bytes(*v)));
        std::string host = spec.port.host;
        spec.port = *p;
        spec.port.host = host;
    }
    if (auto v = last("ready")) {
        auto p = parse_ready_flag(*v);
        if (!p) return fail(flag_error("ready", p.error().context));
        spec.ready.kind = p->kind;
        spec.ready.target = p->target;
    }
    if (auto v = last("health")) {
        auto p = parse_health_flag(*v);
        if (!p) return fail(flag_error("health", p.error().context));
        spec.health.kind = p->kind;
        spec.health.target = p->target;
    }
    if (auto v = last("restart")) {
        auto m = parse_restart_mode(*v);
        if (!m) return fail(flag_error("restart", "expected no, on-failure or always, found " + quote_bytes(*v)));
        spec.restart.mode = *m;
    }
    if (auto v = last("startup-timeout")) {
        auto d = duration("startup-timeout", *v);
        if (!d) return fail(std::move(d).error());
        spec.ready.timeout = *d;
    }
    if (auto v = last("stop-timeout")) {
        auto d = duration("stop-timeout", *v);
        if (!d) return fail(std::move(d).error());
        spec.stop.timeout = *d;
    }
    if (auto v = last("restart-window")) {
        auto d = duration("restart-window", *v);
        if (!d) return fail(std::move(d).error());
        spec.restart.window = *d;
    }
    if (auto v = last("max-restarts")) {
        auto n = positive_int("max-restarts", *v);
        if (!n) return fail(std::move(n).error());
        spec.restart.max_restarts = *n;
    }
    if (auto v = last("stop-signal")) {
        auto s = parse_signal(*v);
        if (!s) return fail(flag_error("stop-signal", "expected a signal name or number (TERM, INT, 15), found " + quote_bytes(*v)));
        spec.stop.signal = *s;
    }
    // --env-file first, then --env on top (as in reins.toml).
    if (auto it = flags.find("env-file"); it != flags.end()) {
        for (const auto& f : it->second) {
            std::string path = absolute_in(base_dir, f);
            auto text = read_text_file(path);
            if (!text) return fail(flag_error("env-file", "cannot read " + path + ": " + text.error().message()));
            auto parsed = parse_env(*text, path);
            if (!parsed.diagnostics.empty())
                return fail(flag_error("env-file", path + ":" + std::to_string(parsed.diagnostics.front().line) + ":" +
                                                       std::to_string(parsed.diagnostics.front().column) + ": " +
                                                       parsed.diagnostics.front().message));
            for (auto& e : parsed.entries) spec.env[e.key] = e.value;
        }
    }
    if (auto it = flags.find("env"); it != flags.end()) {
        for (const auto& a : it->second) {
            auto kv = parse_env_assignment(a);
            if (!kv) return fail(flag_error("env", "expected KEY=VALUE, found " + quote_bytes(a)));
            spec.env[kv->first] = kv->second;
        }
    }
    bool probes_port = spec.ready.kind == ProbeKind::tcp || spec.health.kind == ProbeKind::tcp ||
                       (spec.ready.kind == ProbeKind::http && is_path_target(spec.ready.target)) ||
                       (spec.health.kind == ProbeKind::http && is_path_target(spec.health.target));
    if (probes_port && spec.port.kind == supervisor::PortSpec::Kind::none)
        return fail(flag_error(last("ready") ? "ready" : "health",
                               "a tcp or http:/PATH probe needs the service's port: add --port auto (or a number)"));
    if (spec.ready.kind == ProbeKind::notify) spec.ready.target.clear();
    if (spec.logs.file.empty()) spec.logs.file = "logs/" + spec.name + ".log";
    out = std::move(spec);
    return {};
}

Result<supervisor::ServiceSpec> spec_from_command(std::vector<std::string> argv, const FlagValues& flags,
                                                  const std::string& base_dir) {
    if (argv.empty() || argv[0].empty())
        return fail(Error{make_error_code(Errc::config), "no command given after --"});
    supervisor::ServiceSpec spec;
    std::string base = std::filesystem::path(argv[0]).filename().string();
    std::string name;
    for (char c : base)
        name += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '-';
    while (!name.empty() && !std::isalnum(static_cast<unsigned char>(name.front()))) name.erase(0, 1);
    if (name.size() > 64) name.resize(64);
    spec.name = name.empty() ? "service" : name;
    spec.command.value = std::move(argv);
    spec.cwd = base_dir;
    auto r = apply_flags(spec, flags, base_dir);
    if (!r) return fail(std::move(r).error());
    return spec;
}

}  // namespace reins::config
