// reins config migrate [-c FILE] [--dry-run]: rewrite an older config as the
// current version, atomically, keeping the original as FILE.bak
// (docs/config.md, The legacy format).
#include "cli/cli.hpp"
#include "reins/config/config.hpp"
#include "reins/config/migrate.hpp"

namespace reins::cli {

int run_migrate(const Args& args, Output& out) {
    if (!args.positional.empty() || args.dashdash) {
        out.error("reins config migrate takes no arguments", "see: reins config migrate --help");
        return exit_failure;
    }
    std::string path = config_path(args, out);
    if (path.empty()) return exit_failure;
    auto text = config::read_text_file(path);
    if (!text) {
        out.error("cannot read " + path + ": " + text.error().code.message(), "name the file to migrate with -c FILE");
        return exit_failure;
    }
    auto plan = config::plan_migration(*text, path);
    if (!plan.ok) {
        for (const auto& d : plan.diagnostics)
            if (d.is_error()) out.say(config::format(d, config::FormatOptions{out.color(), true}));
        out.say(path + " was not migrated (it is unchanged); fix the errors above and run `reins config migrate` again");
        return exit_failure;
    }
    if (!plan.needed) {
        out.say(path + " is already " + plan.from + "; nothing to do");
        return exit_ok;
    }
    if (args.has("dry-run")) {
        out.data(plan.text);
        out.say("would migrate " + path + " from " + plan.from + " (dry run: nothing written)");
        return exit_ok;
    }
    auto backup = config::apply_migration(path, *text, plan);
    if (!backup) {
        out.error("could not migrate " + path + ": " + backup.error().message() + "; the original is unchanged",
                  "check that the folder is writable and has free space, then run it again");
        return exit_failure;
    }
    out.say("migrated " + path + " from " + plan.from + " to version " + std::to_string(config::current_version) +
            "; the original is kept as " + *backup);
    return exit_ok;
}

}  // namespace reins::cli
