// What the docs show of the service table: a file of the source tree
// (REINS_SOURCE_DIR, set by meson for this binary) and the fenced block a
// marker comment announces.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace reins::test {

// The file at `path` under the source tree, "" if it cannot be read.
inline std::string source_file(const std::string& path) {
    std::ifstream f(std::string(REINS_SOURCE_DIR) + "/" + path);
    std::stringstream text;
    text << f.rdbuf();
    return text.str();
}

// The text between the line after `marker` and the closing fence.
inline std::string block_after(const std::string& doc, const std::string& marker) {
    auto at = doc.find(marker);
    if (at == std::string::npos) return {};
    auto open = doc.find("```", at);
    if (open == std::string::npos) return {};
    auto start = doc.find('\n', open);
    auto close = doc.find("\n```", start);
    if (start == std::string::npos || close == std::string::npos) return {};
    return doc.substr(start + 1, close - start);
}

}  // namespace reins::test
