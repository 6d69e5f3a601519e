#include "cli/hosting.hpp"

#include <filesystem>

#include "reins/config/service_flags.hpp"
#include "reins/control/supervisor_lock.hpp"

#ifndef REINS_VERSION
#define REINS_VERSION "unknown"
#endif

namespace reins::cli {

std::optional<Hosting> hosting(const Args& args, const Place& place, Output& out, int* code) {
    namespace fs = std::filesystem;
    std::error_code ec;
    Hosting h;
    h.options.paths = control::StatePaths{place.state_dir};
    h.options.version = REINS_VERSION;
    h.options.trim_when_quiet = true;  // this process owns its address space
    h.options.base_dir = fs::current_path(ec).string();
    auto flags = service_flags(args);
    *code = exit_failure;
    auto base = port_base(args, out);
    if (!base) return std::nullopt;
    if (args.has("port-base") && (args.dashdash || place.config.empty())) {
        out.error(args.dashdash ? "--port-base numbers the ports of a Procfile's services, not a single command's"
                                : "--port-base numbers the ports of a Procfile's services, and there is no Procfile here",
                  "give the command its port with --port N (or --port auto)");
        return std::nullopt;
    }
    if (args.dashdash) {
        auto spec = config::spec_from_command(args.after_dashdash, flags, h.options.base_dir);
        if (!spec) {
            out.error(spec.error().context, "see: reins run --help");
            return std::nullopt;
        }
        h.start.push_back(spec->name);
        h.options.services.push_back(std::move(*spec));
        return h;
    }
    if (place.config.empty()) return h;  // the daemon of `start --name X -- CMD`: services come later
    config::LoadOptions load;
    load.port_base = *base;
    auto loaded = config::load_file(place.config, load);
    print_diagnostics(loaded.diagnostics, out);
    if (!loaded.ok()) {
        out.error(place.config + " is not valid; nothing was started", "fix the errors above (reins check shows them)");
        return std::nullopt;
    }
    if (args.has("port-base") && loaded.config.format != config::Format::procfile) {
        out.error("--port-base numbers the ports of a Procfile's services; " + place.config +
                      " sets each service's port itself",
                  "set `port` in " + place.config + ", or override one service's with --port");
        return std::nullopt;
    }
    h.options.config_path = loaded.config.path;
    h.options.settings = loaded.config.supervisor;
    h.options.services = std::move(loaded.config.services);
    for (const auto& name : args.positional) {
        bool found = false;
        for (const auto& s : h.options.services) found = found || s.name == name;
        if (!found) {
            std::string known;
            for (const auto& s : h.options.services) known += (known.empty() ? "" : ", ") + s.name;
            out.error("no service called '" + name + "' in " + place.config, "services: " + known);
            *code = exit_not_found;
            return std::nullopt;
        }
    }
    h.start = args.positional;
    if (!flags.empty()) {
        // Flags override one service: the one named, or the only one.
        std::string target = args.positional.size() == 1 ? args.positional.front()
                             : h.options.services.size() == 1 ? h.options.services.front().name
                                                              : std::string();
        if (target.empty()) {
            out.error("service options such as --port apply to one service, and " + place.config + " has " +
                          std::to_string(h.options.services.size()),
                      "name the service: reins run NAME --port ...");
            return std::nullopt;
        }
        if (flags.count("name")) {
            out.error("--name names a single command (reins run --name X -- CMD), not a service of " + place.config);
            return std::nullopt;
        }
        for (auto& s : h.options.services) {
            if (s.name != target) continue;
            auto r = config::apply_flags(s, flags, loaded.config.dir);
            if (!r) {
                out.error(r.error().context, "see: reins run --help");
                return std::nullopt;
            }
        }
    }
    return h;
}

void say_busy(const Error& e, const std::string& state_dir, Output& out) {
    if (e.code == control::LockErrc::busy) {
        out.error(e.context, "stop it with: reins stop (or use another --state-dir than " + state_dir + ")");
        return;
    }
    out.error(e.message(), "check the state directory " + state_dir);
}

}  // namespace reins::cli
