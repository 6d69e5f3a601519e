#include "reins/config/values.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <csignal>

#include "reins/config/text.hpp"
#include "reins/http/client.hpp"
#include "reins/supervisor/log_pattern.hpp"

namespace reins::config {
namespace {

struct SignalName {
    std::string_view name;
    int number;
};

constexpr std::array<SignalName, 16> kSignals{{
    {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ABRT", SIGABRT}, {"KILL", SIGKILL},
    {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"WINCH", SIGWINCH}, {"XCPU", SIGXCPU},
    {"PWR", SIGPWR},
}};

std::string upper(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

Result<int> parse_signal(std::string_view text) {
    std::string name = upper(text);
    if (!name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
        name.size() <= 2) {
        int n = std::stoi(name);
        if (n >= 1 && n <= 64) return n;
    }
    if (name.rfind("SIG", 0) == 0) name.erase(0, 3);
    for (const auto& s : kSignals)
        if (s.name == name) return s.number;
    std::vector<std::string_view> names;
    for (const auto& s : kSignals) names.push_back(s.name);
    std::string msg = "expected a signal name like \"TERM\", \"INT\" or \"HUP\", found " + quote(text);
    if (auto c = closest(name, names); !c.empty()) msg += " — did you mean \"" + c + "\"?";
    return fail(Errc::config, std::move(msg));
}

std::string signal_name(int sig) {
    for (const auto& s : kSignals)
        if (s.number == sig) return std::string(s.name);
    return std::to_string(sig);
}

Result<supervisor::RestartMode> parse_restart_mode(std::string_view text) {
    using supervisor::RestartMode;
    if (text == "no") return RestartMode::no;
    if (text == "on-failure") return RestartMode::on_failure;
    if (text == "always") return RestartMode::always;
    std::string msg = "expected one of \"no\", \"on-failure\", \"always\", found " + quote(text);
    std::string hint = closest(text, {"no", "on-failure", "always"});
    if (text == "never" || text == "false" || text == "off") hint = "no";
    if (text == "unless-stopped" || text == "true" || text == "on") hint = "always";
    if (!hint.empty()) msg += " — did you mean \"" + hint + "\"?";
    return fail(Errc::config, std::move(msg));
}

std::string_view to_string(supervisor::RestartMode mode) noexcept {
    switch (mode) {
    case supervisor::RestartMode::no: return "no";
    case supervisor::RestartMode::on_failure: return "on-failure";
    case supervisor::RestartMode::always: return "always";
    }
    return "?";
}

bool is_path_target(std::string_view target) noexcept { return !target.empty() && target.front() == '/'; }

Result<void> check_http_target(std::string_view target) {
    if (is_path_target(target)) {
        for (char c : target)
            if (static_cast<unsigned char>(c) <= ' ' || c == 0x7F)
                return fail(Errc::config, "expected a path without spaces or control characters, found " + quote(target));
        return {};
    }
    if (target.rfind("http://", 0) != 0) {
        std::string msg = "expected a path like \"/ready\" or an http:// URL, found " + quote(target);
        if (target.rfind("https://", 0) == 0) msg += "; probes speak plain HTTP (no https)";
        return fail(Errc::config, std::move(msg));
    }
    std::string url(target);
    for (std::string_view pat : {"${PORT}", "$PORT"}) {
        for (auto at = url.find(pat); at != std::string::npos; at = url.find(pat)) url.replace(at, pat.size(), "1");
    }
    auto parsed = http::parse_url(url);
    if (!parsed) {
        return fail(Errc::config, "expected an http:// URL with a numeric or localhost host, found " + quote(target));
    }
    return {};
}

Result<supervisor::HttpAction> parse_http_action(std::string_view text) {
    supervisor::HttpAction a;
    std::string_view target = text;
    if (auto sp = text.find(' '); sp != std::string_view::npos) {
        std::string_view method = text.substr(0, sp);
        target = text.substr(sp + 1);
        while (!target.empty() && target.front() == ' ') target.remove_prefix(1);
        bool token = !method.empty() && std::all_of(method.begin(), method.end(), [](char c) {
            return c >= 'A' && c <= 'Z';
        });
        if (!token) {
            return fail(Errc::config, "expected a request like \"POST /admin/shutdown\" (an upper-case method, "
                                      "then a path or URL), found " + quote(text));
        }
        a.method = std::string(method);
    }
    if (auto ok = check_http_target(target); !ok) {
        return fail(Errc::config, "expected a request like \"POST /admin/shutdown\", found " + quote(text));
    }
    a.target = std::string(target);
    return a;
}

std::string to_string(const supervisor::HttpAction& action) { return action.method + " " + action.target; }

Result<void> check_regex(std::string_view pattern) {
    // RE2 compiles in time and memory bounded by the pattern's size and
    // matches in linear time: only the size needs a bound of our own.
    using supervisor::LogPattern;
    if (pattern.size() > LogPattern::max_size)
        return fail(Errc::config, "a readiness regex is at most " + std::to_string(LogPattern::max_size) + " characters long");
    auto compiled = LogPattern::compile(pattern);
    if (!compiled)
        return fail(Errc::config, "expected a regex in RE2 syntax, found " + quote(pattern) + ": " + compiled.error().context);
    return {};
}

namespace {

Result<ProbeChoice> parse_probe_flag(std::string_view text, bool ready) {
    using supervisor::ProbeKind;
    auto colon = text.find(':');
    std::string_view kind = text.substr(0, colon);
    std::string_view rest = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
    ProbeChoice c;
    if (colon == std::string_view::npos) {
        if (kind == "none") return c;
        if (kind == "tcp") return ProbeChoice{ProbeKind::tcp, {}};
        if (kind == "notify" && ready) return ProbeChoice{ProbeKind::notify, {}};
    } else if (kind == "http") {
        if (auto ok = check_http_target(rest); !ok) return fail(ok.error());
        return ProbeChoice{ProbeKind::http, std::string(rest)};
    } else if (kind == "exec" && !rest.empty()) {
        return ProbeChoice{ProbeKind::exec, std::string(rest)};
    } else if (kind == "log" && ready && !rest.empty()) {
        if (auto ok = check_regex(rest); !ok) return fail(ok.error());
        return ProbeChoice{ProbeKind::log, std::string(rest)};
    }
    return fail(Errc::config, std::string("expected ") +
                                  (ready ? "tcp, http:/PATH, notify, log:REGEX, exec:CMD or none"
                                         : "tcp, http:/PATH, exec:CMD or none") +
                                  ", found " + quote(text));
}

}  // namespace

Result<ProbeChoice> parse_ready_flag(std::string_view text) { return parse_probe_flag(text, true); }
Result<ProbeChoice> parse_health_flag(std::string_view text) { return parse_probe_flag(text, false); }

Result<std::pair<std::string, std::string>> parse_env_assignment(std::string_view text) {
    auto eq = text.find('=');
    if (eq == std::string_view::npos || !is_env_name(text.substr(0, eq))) {
        return fail(Errc::config, "expected KEY=VALUE with KEY made of letters, digits and _, found " + quote(text));
    }
    return std::pair<std::string, std::string>{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

}  // namespace reins::config
