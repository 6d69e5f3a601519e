// The per-service flags of `reins run` and `reins start` (docs/cli.md, Options): they
// describe the service in single-command mode (`run -- CMD`) and override
// the config for a single service. One parser for both the CLI and the
// control API (which receives the same flags from `start --name X -- CMD`).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "reins/async/result.hpp"
#include "reins/supervisor/service_spec.hpp"

namespace reins::config {

/// Flags as given: long name ("port", "env") → values in order.
using FlagValues = std::map<std::string, std::vector<std::string>, std::less<>>;

/// The service flags: name, port, ready, health, restart, startup-timeout,
/// stop-timeout, stop-signal, max-restarts, restart-window, env, env-file, cwd.
const std::vector<std::string_view>& service_flag_names();

/// Applies `flags` on top of `spec`. Errors name the flag and the value
/// ("--port: expected auto, a port or a range A-B, found \"x\""); `spec` is
/// unchanged on error. Relative --cwd and --env-file resolve against `base_dir`.
Result<void> apply_flags(supervisor::ServiceSpec& spec, const FlagValues& flags, const std::string& base_dir);

/// A single-command service: `argv` exec'd directly, named by --name (else
/// the basename of argv[0]), the defaults of docs/config.md, then `flags`;
/// runs in `base_dir` unless --cwd says otherwise.
Result<supervisor::ServiceSpec> spec_from_command(std::vector<std::string> argv, const FlagValues& flags,
                                                  const std::string& base_dir);

}  // namespace reins::config
