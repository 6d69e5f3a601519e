// reins check [-c FILE] [--json] [--port-base N]: validate the config and
// print the effective configuration of every service (docs/cli.md, docs/config.md).
#include <optional>
#include <string>

#include "cli/cli.hpp"
#include "reins/config/config.hpp"
#include "reins/config/emit.hpp"

namespace reins::cli {
namespace {

std::string names(const config::Config& cfg) {
    std::string out;
    for (std::size_t i = 0; i < cfg.services.size() && i < 10; ++i) out += (i ? ", " : "") + cfg.services[i].name;
    if (cfg.services.size() > 10) out += ", ...";
    return out;
}

}  // namespace

int run_check(const Args& args, Output& out) {
    if (!args.positional.empty() || args.dashdash) {
        out.error("reins check takes no arguments, found '" + (args.positional.empty() ? std::string("--") : args.positional[0]) + "'",
                  "see: reins check --help");
        return exit_failure;
    }
    auto base = port_base(args, out);
    if (!base) return exit_failure;
    std::string path = config_path(args, out);
    if (path.empty()) return exit_failure;
    config::LoadOptions options;
    options.port_base = *base;
    auto r = config::load_file(path, options);
    const bool json = args.has("json");

    if (json) {
        config::Node doc = config::make_table();
        config::add(doc, "ok", config::make_bool(r.ok()));
        config::add(doc, "file", config::make_string(path));
        config::add(doc, "format", config::make_string(std::string(config::to_string(r.config.format))));
        config::add(doc, "diagnostics", config::to_node(r.diagnostics));
        if (r.ok()) config::add(doc, "config", config::to_document(r.config, config::EmitMode::effective));
        out.data(config::to_json(doc));
        return r.ok() ? exit_ok : exit_failure;
    }

    print_diagnostics(r.diagnostics, out);
    if (!r.ok()) {
        std::size_t errors = 0;
        for (const auto& d : r.diagnostics) errors += d.is_error() ? 1 : 0;
        out.say(std::to_string(errors) + (errors == 1 ? " error" : " errors") + " in " + path +
                "; fix " + (errors == 1 ? "it" : "them") + " and run `reins check` again");
        return exit_failure;
    }
    const auto& cfg = r.config;
    std::string header = "# Effective configuration of " + path + " (";
    if (cfg.format == config::Format::legacy) header += "legacy format, read as version 1";
    else if (cfg.format == config::Format::procfile) header += "Procfile";
    else header += "version " + std::to_string(cfg.version);
    header += "): every default applied, paths resolved.\n\n";
    out.data(header + config::to_toml(config::to_document(cfg, config::EmitMode::effective)));
    out.say(path + " is valid: " + std::to_string(cfg.services.size()) +
            (cfg.services.size() == 1 ? " service (" : " services (") + names(cfg) + ")");
    return exit_ok;
}

}  // namespace reins::cli
