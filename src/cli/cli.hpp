// The reins executable: a table of commands, each in its own file, sharing
// one argument parser and one output object (docs/cli.md: human lines on
// stderr prefixed `reins:`, data on stdout, colors only on a TTY and never
// with NO_COLOR, the seeds' exit codes).
//
// Adding a command: write `int run_NAME(const Args&, Output&)` in NAME.cpp
// and add a row to commands() in main.cpp.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reins/async/result.hpp"
#include "reins/config/diagnostic.hpp"

namespace reins::cli {

/// Exit codes of the control commands (docs/cli.md, Exit codes).
enum Exit : int {
    exit_ok = 0,
    exit_not_found = 1,    ///< no supervisor / no such service / not running
    exit_port_in_use = 2,  ///< a port the service needs is in use
    exit_failure = 3,      ///< anything else: invalid config, bad arguments...
};

/// One option a command accepts.
struct OptionDef {
    std::string_view long_name;   ///< "config" for --config
    char short_name = 0;          ///< 'c' for -c; 0: none
    std::string_view value_name;  ///< "FILE"; empty: a flag without a value
    std::string_view help;
    bool repeatable = false;
};

/// Parsed arguments of one command.
struct Args {
    std::map<std::string, std::vector<std::string>, std::less<>> values;  ///< long name → values (flags: {""})
    std::vector<std::string> positional;
    std::vector<std::string> after_dashdash;  ///< COMMAND [ARG...] after `--`
    bool dashdash = false;

    bool has(std::string_view name) const { return values.find(name) != values.end(); }
    /// The last value given for `name`, or `def`.
    std::string get(std::string_view name, std::string def = {}) const;
};

/// An argument as a message shows it: as typed, or quoted with bytes that
/// are not UTF-8 and control characters escaped.
std::string shown_arg(std::string_view arg);

/// Parses `argv` (the arguments after the command words) against `defs`.
/// Errors say which argument and what was expected.
Result<Args> parse_args(const std::vector<std::string>& argv, const std::vector<OptionDef>& defs);

/// Human output on stderr, data on stdout.
class Output {
public:
    Output();
    /// "reins: TEXT" on stderr.
    void say(std::string_view text);
    /// "reins: error: WHAT" and, when given, "reins: HINT" on stderr.
    void error(std::string_view what, std::string_view hint = {});
    /// Data on stdout, as is.
    void data(std::string_view text);
    /// Colors on stderr (a TTY, and NO_COLOR not set).
    bool color() const noexcept { return color_err_; }

private:
    bool color_err_ = false;
};

/// Checks what the command line of `command` ("stop", "start"...) names
/// before anything acts on it: every service name (SERVICE arguments,
/// --name) valid, and for `start -- COMMAND` the command, the service
/// options and the current directory valid UTF-8 (they travel as JSON).
/// Says on `out` which argument is wrong and what is allowed (its bytes
/// escaped); returns exit_ok or exit_failure.
int check_arguments(std::string_view command, const Args& args, Output& out);

/// Options every command takes (-c/--config, --state-dir, -h/--help).
const std::vector<OptionDef>& common_options();

/// The config file a command works on: -c FILE, else reins.toml or
/// Procfile in the current directory. Empty after saying why there is none.
std::string config_path(const Args& args, Output& out);

/// Config diagnostics, gcc-style with excerpts, on stderr.
void print_diagnostics(const std::vector<config::Diagnostic>& ds, Output& out);

/// Where a command's supervisor lives (docs/cli.md, The state directory).
struct Place {
    std::string config;     ///< the config file as given/found; empty: none (single-command mode)
    std::string state_dir;  ///< absolute: --state-dir, else $REINS_STATE_DIR, else .reins/ beside the config, else ./.reins
};
/// Finds the config (-c, else reins.toml/Procfile in the current directory)
/// and the state directory. With `need_config` a missing config is an error
/// (said on `out`, nullopt returned); without, config is left empty.
std::optional<Place> find_place(const Args& args, Output& out, bool need_config);

/// A command of the table: its words, usage, options and what runs it.
struct CommandDef {
    std::vector<std::string_view> words;  ///< {"check"}, {"config", "migrate"}
    std::string_view args_usage;          ///< "[-c FILE] [--json]"
    std::string_view summary;
    std::vector<OptionDef> options;       ///< besides common_options()
    int (*run)(const Args&, Output&);
};

int run_check(const Args& args, Output& out);
int run_migrate(const Args& args, Output& out);
int run_run(const Args& args, Output& out);
int run_start(const Args& args, Output& out);
int run_restart(const Args& args, Output& out);
int run_stop(const Args& args, Output& out);
int run_status(const Args& args, Output& out);
int run_daemon(const Args& args, Output& out);
int run_logs(const Args& args, Output& out);

/// The per-service options of run and start (docs/cli.md, Options).
const std::vector<OptionDef>& service_options();
/// service_options() and --ready-fd (the hidden `reins __daemon`).
const std::vector<OptionDef>& daemon_options();
/// Those of `args` that describe a service (all but --port-base), as
/// config::FlagValues (long name → values).
std::map<std::string, std::vector<std::string>, std::less<>> service_flags(const Args& args);
/// --port-base N (a Procfile's first port): 1-65535, default 5000; nullopt
/// after saying what is wrong.
std::optional<int> port_base(const Args& args, Output& out);

}  // namespace reins::cli
