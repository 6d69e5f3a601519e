// Diagnostic: one problem found in a config file, with where it is (file,
// line, column), which key, and a sentence saying what was expected and
// what was found. The loader collects every one of a file, not only the
// first, and the CLI prints them gcc-style:
//
//   reins.toml:14:1: error: unknown key 'restarts' in [service.api] — did you mean 'restart'?
//      14 | restarts = 3
//         | ^
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace reins::config {

/// An error makes the file invalid; a warning does not.
enum class Severity { error, warning };

/// One problem, where it is, and what to do about it.
struct Diagnostic {
    Severity severity = Severity::error;
    std::string file;     ///< as the user named it ("reins.toml", "./.env")
    int line = 0;         ///< 1-based; 0: about the whole file
    int column = 0;       ///< 1-based; 0: about the whole line
    std::string key;      ///< key path, "service.api.restart.max" (may be empty)
    std::string message;  ///< the whole sentence, naming the key and what was found
    std::string hint;     ///< what to do next, or the closest known key (may be empty)
    std::string excerpt;  ///< the source line `line`, when known

    bool is_error() const noexcept { return severity == Severity::error; }
};

/// How format() prints.
struct FormatOptions {
    bool color = false;    ///< ANSI colors (the CLI decides: a TTY and no NO_COLOR)
    bool excerpt = true;   ///< add the source line and a caret under the column
};

/// "file:line:col: error: message — hint", then the excerpt lines; no
/// trailing newline.
std::string format(const Diagnostic& d, FormatOptions options = {});

/// True if any diagnostic is an error.
bool has_errors(const std::vector<Diagnostic>& ds) noexcept;

/// Sorts by file, line and column (errors of one position in the order
/// found) and removes exact duplicates (a [defaults] value is checked once
/// per service).
void sort_unique(std::vector<Diagnostic>& ds);

/// Fills `excerpt` of the diagnostics about `file` from its text.
void add_excerpts(std::vector<Diagnostic>& ds, const std::string& file, std::string_view text);

}  // namespace reins::config
