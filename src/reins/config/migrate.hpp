// `reins config migrate`: rewrite an older config file as the current
// version, atomically, keeping the original beside it as FILE.bak.
//
// The legacy format becomes a version 1 file with only the non-default keys
// (legacy keys reins does not use stay as comments); a version 1 file
// without `version` gets `version = 1` prepended, the rest untouched. The
// new text is checked to load to the same effective config before anything
// is written.
//
// Writing: FILE.bak first (temp file, fsync, rename), then the new FILE
// (temp file in the same folder, fsync, rename over FILE), then the folder
// is fsynced. A failure at any step leaves FILE as it was and removes the
// temp files.
#pragma once

#include <string>
#include <vector>

#include "reins/async/result.hpp"
#include "reins/config/diagnostic.hpp"

namespace reins::config {

/// What a migration would write, decided before anything is written.
struct MigrationPlan {
    bool needed = false;       ///< false: already the current version (nothing to write)
    std::string text;          ///< the new file's text when needed
    std::string from;          ///< "legacy format (version 0)", "version 1 without `version`"
    std::vector<Diagnostic> diagnostics;  ///< the original's errors and warnings
    bool ok = true;            ///< false: the original has errors (or is not TOML): nothing to do
};

/// What migrating `text` (the file at `path`) would write; reads nothing
/// but the env files the config names.
MigrationPlan plan_migration(std::string_view text, const std::string& path);

/// Writes `text` to `path` atomically (temp file in the same folder, fsync,
/// rename, fsync of the folder), with `mode` permissions.
Result<void> write_file_atomic(const std::string& path, std::string_view text, unsigned mode = 0644);

/// Carries out a plan that is needed for the file at `path`, whose current
/// text is `original`: writes FILE.bak, then FILE. Returns the backup's path.
/// On failure the original file is as it was.
Result<std::string> apply_migration(const std::string& path, std::string_view original, const MigrationPlan& plan);

/// What migrate_file did.
struct MigrationOutcome {
    MigrationPlan plan;
    std::string backup;  ///< FILE.bak, when written
};

/// Reads, plans and applies. Errors: an unreadable file, a config with
/// errors (Errc::config, listing them), or a failed write (the original is
/// intact).
Result<MigrationOutcome> migrate_file(const std::string& path);

}  // namespace reins::config
