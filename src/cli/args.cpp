// Argument parsing and output for every command.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "cli/cli.hpp"
#include "reins/config/config.hpp"
#include "reins/config/text.hpp"

namespace reins::cli {

std::string shown_arg(std::string_view arg) {
    // Never raw bytes or control characters in a message.
    std::string q = config::quote_bytes(arg);
    return q == "\"" + std::string(arg) + "\"" ? std::string(arg) : q;
}

std::string Args::get(std::string_view name, std::string def) const {
    auto it = values.find(name);
    return it == values.end() || it->second.empty() ? def : it->second.back();
}

Result<Args> parse_args(const std::vector<std::string>& argv, const std::vector<OptionDef>& defs) {
    Args out;
    auto bad = [](std::string msg) { return fail(Errc::config, std::move(msg)); };
    for (std::size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a == "--") {
            out.dashdash = true;
            out.after_dashdash.assign(argv.begin() + static_cast<std::ptrdiff_t>(i) + 1, argv.end());
            break;
        }
        if (a.size() < 2 || a[0] != '-') {
            out.positional.push_back(a);
            continue;
        }
        const OptionDef* def = nullptr;
        std::string value;
        bool inline_value = false;
        std::string shown;
        if (a.rfind("--", 0) == 0) {
            std::string name = a.substr(2);
            if (auto eq = name.find('='); eq != std::string::npos) {
                value = name.substr(eq + 1);
                name.resize(eq);
                inline_value = true;
            }
            shown = shown_arg("--" + name);
            for (const auto& d : defs)
                if (d.long_name == name) def = &d;
            if (!def) {
                std::vector<std::string_view> names;
                for (const auto& d : defs) names.push_back(d.long_name);
                std::string msg = "unknown option " + shown;
                if (auto c = config::closest(name, names); !c.empty()) msg += " — did you mean --" + c + "?";
                return bad(msg);
            }
        } else {
            shown = shown_arg(a.substr(0, 2));
            for (const auto& d : defs)
                if (d.short_name != 0 && d.short_name == a[1]) def = &d;
            if (!def) return bad("unknown option " + shown);
            if (a.size() > 2) {
                if (def->value_name.empty()) return bad("option " + shown + " takes no value, found " + a);
                value = a.substr(2);
                inline_value = true;
            }
        }
        if (def->value_name.empty()) {
            if (inline_value) return bad("option " + shown + " takes no value");
            out.values[std::string(def->long_name)].push_back("");
            continue;
        }
        if (!inline_value) {
            if (i + 1 >= argv.size()) return bad("option " + shown + " needs a value: " + shown + " " + std::string(def->value_name));
            value = argv[++i];
        }
        auto& slot = out.values[std::string(def->long_name)];
        if (!slot.empty() && !def->repeatable) return bad("option " + shown + " is given twice");
        slot.push_back(std::move(value));
    }
    return out;
}

Output::Output() {
    color_err_ = ::isatty(STDERR_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr;
}

void Output::say(std::string_view text) {
    std::string line = "reins: " + std::string(text) + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
}

void Output::error(std::string_view what, std::string_view hint) {
    std::string line = "reins: " + std::string(color_err_ ? "\x1b[1;31merror:\x1b[0m " : "error: ") + std::string(what) + "\n";
    if (!hint.empty()) line += "reins: " + std::string(hint) + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
}

void Output::data(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

const std::vector<OptionDef>& common_options() {
    static const std::vector<OptionDef> defs{
        {"config", 'c', "FILE", "config file (default: reins.toml in the current directory, else Procfile)"},
        {"state-dir", 0, "DIR", "state directory (also REINS_STATE_DIR; default: .reins/ beside the config)"},
        {"help", 'h', "", "show this help"},
    };
    return defs;
}

std::string config_path(const Args& args, Output& out) {
    if (args.has("config")) return args.get("config");
    std::error_code ec;
    auto cwd = std::filesystem::current_path(ec);
    if (auto found = config::find_config(cwd.string()); !found.empty()) {
        // Shown as the user would name it: "reins.toml", not an absolute path.
        return std::filesystem::path(found).filename().string();
    }
    out.error("no reins.toml or Procfile in " + cwd.string(),
              "create reins.toml (see docs/config.md), or name a file with -c FILE");
    return {};
}

void print_diagnostics(const std::vector<config::Diagnostic>& ds, Output& out) {
    for (const auto& d : ds) out.say(config::format(d, config::FormatOptions{out.color(), true}));
}

std::optional<Place> find_place(const Args& args, Output& out, bool need_config) {
    namespace fs = std::filesystem;
    Place place;
    std::error_code ec;
    if (args.has("config") || need_config) {
        place.config = config_path(args, out);
        if (place.config.empty()) return std::nullopt;
    } else if (auto found = config::find_config(fs::current_path(ec).string()); !found.empty()) {
        place.config = fs::path(found).filename().string();
    }
    std::string dir = args.get("state-dir");
    if (dir.empty()) {
        if (const char* env = std::getenv("REINS_STATE_DIR"); env && *env) dir = env;
    }
    if (dir.empty()) {
        fs::path base = place.config.empty() ? fs::current_path(ec) : fs::absolute(place.config, ec).parent_path();
        dir = (base / ".reins").string();
    }
    fs::path abs = fs::absolute(dir, ec).lexically_normal();
    place.state_dir = abs.string();
    while (place.state_dir.size() > 1 && place.state_dir.back() == '/') place.state_dir.pop_back();
    return place;
}

const std::vector<OptionDef>& service_options() {
    static const std::vector<OptionDef> defs{
        {"name", 0, "NAME", "service name in single-command mode (default: basename of COMMAND)"},
        {"port", 0, "P", "auto, a number, or a range A-B (exported as PORT)"},
        {"ready", 0, "R", "tcp, http:/PATH, notify, log:REGEX, exec:CMD, none (default none)"},
        {"health", 0, "H", "tcp, http:/PATH, exec:CMD, none (default none)"},
        {"restart", 0, "P", "no, on-failure, always (default on-failure)"},
        {"startup-timeout", 0, "D", "readiness deadline (default 30s)"},
        {"stop-timeout", 0, "D", "grace before SIGKILL (default 10s)"},
        {"stop-signal", 0, "S", "first signal of a stop (default TERM)"},
        {"max-restarts", 0, "N", "restarts allowed within the window (default 5)"},
        {"restart-window", 0, "D", "the circuit breaker's window (default 5m)"},
        {"env", 0, "K=V", "set a variable in the child's environment (repeatable)", true},
        {"env-file", 0, "F", "read variables from a .env file (repeatable)", true},
        {"cwd", 0, "DIR", "the child's working directory"},
        {"port-base", 0, "N", "Procfile: first port (PORT = N + 100 x index; default 5000)"},
    };
    return defs;
}

const std::vector<OptionDef>& daemon_options() {
    static const std::vector<OptionDef> defs = [] {
        std::vector<OptionDef> d = service_options();
        d.push_back({"ready-fd", 0, "FD", "tell the starter on FD whether the state directory is ours"});
        return d;
    }();
    return defs;
}

std::map<std::string, std::vector<std::string>, std::less<>> service_flags(const Args& args) {
    std::map<std::string, std::vector<std::string>, std::less<>> flags;
    for (const auto& d : service_options())
        if (auto it = args.values.find(d.long_name); it != args.values.end() && d.long_name != "port-base")
            flags[std::string(d.long_name)] = it->second;
    return flags;
}

std::optional<int> port_base(const Args& args, Output& out) {
    if (!args.has("port-base")) return 5000;
    std::string v = args.get("port-base");
    bool digits = !v.empty() && v.size() <= 5 && v.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoi(v) < 1 || std::stoi(v) > 65535) {
        out.error("--port-base: expected a port 1-65535, found \"" + v + "\"", "for example: --port-base 7000");
        return std::nullopt;
    }
    return std::stoi(v);
}

}  // namespace reins::cli
