// reins::config — reins.toml (docs/config.md), the legacy single-server format and
// Procfile + .env, turned into the supervisor's ServiceSpecs.
//
//   auto r = reins::config::load_file("reins.toml");
//   for (auto& d : r.diagnostics) std::cerr << format(d) << "\n";
//   if (!r.ok()) return 3;
//   for (auto& spec : r.config.services) supervisor.add(spec);
//
// Loading never stops at the first problem: every error of the file (wrong
// types, bad durations, unknown keys with the closest known one, unknown or
// cyclic dependencies, unreadable env files...) comes back as a Diagnostic
// with file, line, column and key path. Every default is applied: a loaded
// ServiceSpec is exactly what will run (`reins check` prints it).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reins/async/result.hpp"
#include "reins/config/diagnostic.hpp"
#include "reins/config/service_name.hpp"
#include "reins/supervisor/service_spec.hpp"

namespace reins::config {

/// The newest config version this build reads.
inline constexpr int current_version = 1;

/// What kind of file a config came from.
enum class Format {
    toml,      ///< reins.toml, version 1
    legacy,    ///< the seeds' single-server format (version 0, or [server] and no version)
    procfile,  ///< Procfile (+ .env)
};

/// "toml", "legacy" or "procfile".
std::string_view to_string(Format f) noexcept;

/// The [supervisor] table.
struct SupervisorSettings {
    std::string listen;       ///< "127.0.0.1:9090" as written; empty: off
    std::string listen_host;  ///< its host without brackets ("::1")
    int listen_port = 0;
    bool allow_remote = false;
};

/// A loaded file: supervisor settings and every service, defaults applied.
struct Config {
    std::string path;          ///< absolute path of the file
    std::string display_path;  ///< the path as the user gave it (messages)
    std::string dir;           ///< absolute folder of the file: relative paths resolve against it
    Format format = Format::toml;
    int version = current_version;  ///< as written (0: legacy)
    bool version_missing = false;   ///< no `version` key
    SupervisorSettings supervisor;
    std::vector<supervisor::ServiceSpec> services;  ///< in file order
    /// Legacy keys reins reads but does not use, as "[server] max_connections = 100".
    std::vector<std::string> legacy_unused;

    /// The service called `name`, or nullptr.
    const supervisor::ServiceSpec* find(std::string_view name) const;
};

/// What a file does not say.
struct LoadOptions {
    int port_base = 5000;  ///< Procfile: PORT = port_base + 100 × index
};

/// The config and every diagnostic about it (the config is complete only when ok()).
struct LoadResult {
    Config config;                        ///< complete when ok()
    std::vector<Diagnostic> diagnostics;  ///< errors and warnings, in file order

    bool ok() const noexcept { return !has_errors(diagnostics); }
    /// One Errc::config Error listing every error (for callers wanting a Result).
    Error error() const;
};

/// Loads `path`: a Procfile when its file name starts with "Procfile", else
/// TOML (version 1 or the legacy format).
LoadResult load_file(const std::string& path, const LoadOptions& options = {});

/// Loads TOML `text` as if read from `path`: relative paths resolve against
/// its folder (env files are read from there).
LoadResult load_toml(std::string_view text, const std::string& path, const LoadOptions& options = {});

/// Loads Procfile `text` as if read from `path`; a `.env` beside it is read
/// when present.
LoadResult load_procfile(std::string_view text, const std::string& path, const LoadOptions& options = {});

/// load_file as a Result.
Result<Config> load_config(const std::string& path, const LoadOptions& options = {});

/// The config to use in `dir` (docs/config.md): "reins.toml" if present, else
/// "Procfile", joined to `dir`; empty if neither exists.
std::string find_config(const std::string& dir);

/// Reads a whole regular file of at most `max` bytes (config and env files:
/// a FIFO or a device is refused rather than blocked on).
Result<std::string> read_text_file(const std::string& path, std::size_t max = 16u << 20);

}  // namespace reins::config
