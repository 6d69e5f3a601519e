// reins: the command table and dispatch (docs/cli.md).
#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "reins/async/fd_limit.hpp"
#include "reins/config/text.hpp"

#ifndef REINS_VERSION
#define REINS_VERSION "unknown"
#endif

namespace reins::cli {
namespace {

const std::vector<CommandDef>& commands() {
    static const std::vector<CommandDef> table{
        {{"check"}, "[-c FILE] [--json] [--port-base N]", "validate the config, print what would run",
         {{"json", 0, "", "print one JSON document (the diagnostics and the effective config)"},
          {"port-base", 0, "N", "Procfile: first port (PORT = N + 100 x index; default 5000)"}},
         run_check},
        {{"config", "migrate"}, "[-c FILE] [--dry-run]", "rewrite an older config in the current version",
         {{"dry-run", 0, "", "print the migrated file instead of writing it"}},
         run_migrate},
        {{"run"}, "[OPTIONS] [SERVICE...] | [OPTIONS] -- COMMAND [ARG...]", "supervise in the foreground",
         service_options(), run_run},
        {{"start"}, "[OPTIONS] [SERVICE...] | [OPTIONS] --name NAME -- COMMAND [ARG...]",
         "start in the background (daemon); return once ready", service_options(), run_start},
        {{"stop"}, "[SERVICE...]", "stop services (all: also the daemon)", {}, run_stop},
        {{"restart"}, "[SERVICE...]", "stop then start; starts what is not running", {}, run_restart},
        {{"status"}, "[SERVICE...] [--json] [--lsb]", "what is running, pids, ports, health, restarts, uptime",
         {{"json", 0, "", "print one JSON document"},
          {"lsb", 0, "", "exit with the LSB status codes (0 running, 1 failed, 3 not running, 4 unknown)"}},
         run_status},
        {{"logs"}, "[SERVICE...] [-f] [-n N]", "print (and follow) captured output",
         {{"follow", 'f', "", "keep printing new lines, across rotations, until Ctrl-C"},
          {"lines", 'n', "N", "print the last N lines (default 100)"}},
         run_logs},
    };
    return table;
}

std::string words(const CommandDef& c) {
    std::string out;
    for (auto w : c.words) out += (out.empty() ? "" : " ") + std::string(w);
    return out;
}

/// The daemon behind `reins start`; not listed in the help.
const CommandDef& daemon_command() {
    static const CommandDef c{{"__daemon"}, "", "", daemon_options(), run_daemon};
    return c;
}

std::string general_help() {
    std::string out = "reins " REINS_VERSION " — a process supervisor\n\nUsage:\n";
    for (const auto& c : commands()) out += "  reins " + words(c) + " " + std::string(c.args_usage) + "\n";
    out += "  reins --version | --help | COMMAND --help\n\nCommands:\n";
    for (const auto& c : commands()) {
        std::string w = words(c);
        out += "  " + w + std::string(w.size() < 18 ? 18 - w.size() : 1, ' ') + std::string(c.summary) + "\n";
    }
    out += "\nExit codes: 0 success, 1 not found, 2 a port is in use, 3 any other error.\n";
    return out;
}

std::string command_help(const CommandDef& c) {
    std::string out = "Usage: reins " + words(c) + " " + std::string(c.args_usage) + "\n\n" + std::string(c.summary) +
                      "\n\nOptions:\n";
    auto line = [&](const OptionDef& d) {
        std::string flag = d.short_name ? std::string("-") + d.short_name + ", " : "    ";
        flag += "--" + std::string(d.long_name);
        if (!d.value_name.empty()) flag += " " + std::string(d.value_name);
        out += "  " + flag + std::string(flag.size() < 24 ? 24 - flag.size() : 1, ' ') + std::string(d.help) + "\n";
    };
    for (const auto& d : c.options) line(d);
    for (const auto& d : common_options()) line(d);
    return out;
}

int dispatch(const std::vector<std::string>& argv) {
    Output out;
    if (argv.empty()) {
        out.error("no command given", "try: reins --help");
        return exit_failure;
    }
    if (argv[0] == "--version" || argv[0] == "-V") {
        out.data("reins " REINS_VERSION "\n");
        return exit_ok;
    }
    if (argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
        out.data(general_help());
        return exit_ok;
    }
    // The command with the most matching words ("config migrate").
    const CommandDef* cmd = argv[0] == "__daemon" ? &daemon_command() : nullptr;
    for (const auto& c : commands()) {
        if (c.words.size() > argv.size()) continue;
        bool match = true;
        for (std::size_t i = 0; i < c.words.size(); ++i) match = match && argv[i] == c.words[i];
        if (match && (!cmd || c.words.size() > cmd->words.size())) cmd = &c;
    }
    if (!cmd) {
        std::vector<std::string> names;
        for (const auto& c : commands()) names.push_back(words(c));
        std::vector<std::string_view> views(names.begin(), names.end());
        std::string asked = argv[0];
        if (argv[0] == "config" && argv.size() > 1) asked += " " + argv[1];
        std::string hint = "try: reins --help";
        if (auto c = config::closest(asked, views); !c.empty()) hint = "did you mean 'reins " + c + "'?";
        else if (argv[0] == "config") hint = "reins config has one subcommand: migrate";
        std::string shown = shown_arg(asked);
        out.error("unknown command " + (shown == asked ? "'" + asked + "'" : shown), hint);
        return exit_failure;
    }
    std::vector<OptionDef> defs = cmd->options;
    defs.insert(defs.end(), common_options().begin(), common_options().end());
    std::vector<std::string> rest(argv.begin() + static_cast<std::ptrdiff_t>(cmd->words.size()), argv.end());
    auto args = parse_args(rest, defs);
    if (!args) {
        out.error(args.error().context, "see: reins " + words(*cmd) + " --help");
        return exit_failure;
    }
    if (args->has("help")) {
        out.data(command_help(*cmd));
        return exit_ok;
    }
    if (int c = check_arguments(words(*cmd), *args, out); c != exit_ok) return c;
    return cmd->run(*args, out);
}

}  // namespace
}  // namespace reins::cli

int main(int argc, char** argv) {
    // What every reins executable does first. Fds 0-2 must be open (libuv
    // aborts when a handle it creates lands on one of them, and a child
    // would inherit a stray fd there): reopen /dev/null on any that is closed.
    for (int fd = 0; fd <= 2; ++fd)
        if (::fcntl(fd, F_GETFD) < 0 && ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd) return 3;
    // No fd leaks into children, and a write to a closed pipe
    // (`reins check | head`) is an error, not death.
    uv_disable_stdio_inheritance();
    std::signal(SIGPIPE, SIG_IGN);
    // A supervisor holds descriptors for every service: take the whole hard
    // open-file limit, as systemd does (docs/cli.md, "Open-file limit").
    // Services inherit it. Failing to raise it is no reason not to run.
    (void)reins::raise_open_file_limit();
    std::vector<std::string> args(argv + 1, argv + argc);
    return reins::cli::dispatch(args);
}
