// Helpers of the log reader tests: a log file's text written by hand.
#pragma once

#include <fstream>
#include <string>

namespace reins::test {

inline void write_file(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

inline void append_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::app) << text;
}

}  // namespace reins::test
