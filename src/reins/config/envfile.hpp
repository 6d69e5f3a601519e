// .env files and Procfiles: the two line formats reins reads besides TOML.
//
// .env (docker compose / dotenv style, nothing is executed or expanded):
//   # comment                 blank lines and comments are skipped
//   KEY=value                 unquoted: trimmed; " #..." ends it
//   export KEY=value          `export ` is allowed and ignored
//   KEY="a \"b\"\nc"          double quotes: \n \r \t \" \\ \$ escapes; may span lines
//   KEY='literal $x'          single quotes: taken as is; may span lines
//   KEY=                      empty value
// `$VAR` and `$(cmd)` stay literal text.
//
// Procfile (foreman): `name: command` lines, `#` comments, blank lines.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reins/config/diagnostic.hpp"

namespace reins::config {

/// One KEY=VALUE of a .env file.
struct EnvEntry {
    std::string key;
    std::string value;
    int line = 0;
};

/// What a .env file holds, and its bad lines.
struct EnvParse {
    std::vector<EnvEntry> entries;        ///< in file order (a later KEY wins)
    std::vector<Diagnostic> diagnostics;  ///< lines that could not be read
};

/// Parses .env text; `file` names it in the diagnostics, which give the
/// line and column of a bad line but never its content.
EnvParse parse_env(std::string_view text, const std::string& file);

/// One `name: command` line.
struct ProcfileEntry {
    std::string name;
    std::string command;
    int line = 0;
    int command_column = 0;
};

/// What a Procfile holds, and its bad lines.
struct ProcfileParse {
    std::vector<ProcfileEntry> entries;
    std::vector<Diagnostic> diagnostics;
};

/// Parses Procfile text; `file` names it in the diagnostics.
ProcfileParse parse_procfile(std::string_view text, const std::string& file);

}  // namespace reins::config
