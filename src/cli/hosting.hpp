// What `reins run` and the daemon behind `reins start` share: the services
// to supervise (the config, or one command), with the per-service flags
// applied, as the SupervisorHost's options.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "reins/control/supervisor_host.hpp"

namespace reins::cli {

struct Hosting {
    control::HostOptions options;
    std::vector<std::string> start;  ///< the services asked for (empty: all)
};

/// Builds the host's options from the arguments: `run -- CMD` → one service;
/// otherwise the config's services, the positional names checked, and the
/// service flags applied to the one service they can mean. On failure says
/// why and sets `*code` (1 unknown service, 3 anything else).
std::optional<Hosting> hosting(const Args& args, const Place& place, Output& out, int* code);

/// The error for a state directory locked by another supervisor.
void say_busy(const Error& e, const std::string& state_dir, Output& out);

}  // namespace reins::cli
