// Checks of what a command line names before anything acts on it: service
// names must be names (see reins/config/service_name.hpp), and what `reins
// start -- COMMAND` (or restart) sends to its supervisor must be text.
#include <array>
#include <filesystem>

#include "cli/cli.hpp"
#include "reins/config/service_name.hpp"
#include "reins/config/text.hpp"

namespace reins::cli {

namespace {

/// The commands whose positional arguments are service names.
bool names_services(std::string_view command) {
    constexpr std::array<std::string_view, 7> naming{"run", "start", "stop", "restart", "status", "logs", "__daemon"};
    for (auto c : naming)
        if (c == command) return true;
    return false;
}

int bad_name(const Error& e, std::string_view command, Output& out) {
    out.error(e.context, "reins status lists the services; see: reins " + std::string(command) + " --help");
    return exit_failure;
}

int not_text(const std::string& what, std::string_view value, Output& out) {
    out.error(what + " " + config::quote_bytes(value) +
                  " is not valid UTF-8: the command goes to the supervisor as JSON text",
              "make the bytes in a shell (-- sh -c '...' with printf escapes), or use reins run");
    return exit_failure;
}

}  // namespace

int check_arguments(std::string_view command, const Args& args, Output& out) {
    if (!names_services(command)) return exit_ok;
    for (const auto& n : args.positional)
        if (auto valid = config::check_service_name(n); !valid) return bad_name(valid.error(), command, out);
    if (auto it = args.values.find("name"); it != args.values.end())
        for (const auto& n : it->second)
            if (auto valid = config::check_service_name(n); !valid)
                return bad_name(Error(Errc::config, "--name: " + valid.error().context), command, out);
    if ((command != "start" && command != "restart") || !args.dashdash) return exit_ok;
    // JSON carries text only: a byte that is not UTF-8 would arrive as U+FFFD
    // and the supervisor would run another command than the one typed.
    for (std::size_t i = 0; i < args.after_dashdash.size(); ++i)
        if (!config::is_utf8(args.after_dashdash[i]))
            return not_text(i == 0 ? "the command" : "argument " + std::to_string(i) + " of the command",
                            args.after_dashdash[i], out);
    for (const auto& [flag, values] : service_flags(args))
        for (const auto& v : values)
            if (!config::is_utf8(v)) return not_text("the value of --" + flag, v, out);
    std::error_code ec;
    std::string cwd = std::filesystem::current_path(ec).string();
    if (!config::is_utf8(cwd)) return not_text("the current directory", cwd, out);
    return exit_ok;
}

}  // namespace reins::cli
