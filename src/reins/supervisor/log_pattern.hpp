// LogPattern: a ready.log pattern, found anywhere in one line of output.
//
// RE2, not std::regex: libstdc++ matches by recursion, a stack frame per
// character for ".*", so one long line of output overflowed the supervisor's
// stack. RE2 never backtracks: matching takes time linear in the line and
// memory bounded by max_mem, whatever the line holds; compiling is bounded by
// the pattern's size. The price: no backreferences and no lookaround.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "reins/async/result.hpp"

namespace re2 {
class RE2;
}

namespace reins::supervisor {

class LogPattern {
public:
    /// The longest pattern accepted, in bytes.
    static constexpr std::size_t max_size = 1024;
    /// What RE2 may use for the compiled pattern and its match cache.
    static constexpr int64_t max_mem = 1 << 20;

    /// Compiles `pattern` (RE2 syntax). An invalid one is an Errc::config
    /// Error whose context is RE2's reason ("invalid escape sequence: \1"),
    /// followed by what is not supported when that is the cause; the caller
    /// names the pattern.
    static Result<LogPattern> compile(std::string_view pattern);

    LogPattern(LogPattern&&) noexcept;
    LogPattern& operator=(LogPattern&&) noexcept;
    ~LogPattern();

    /// True when the pattern matches somewhere in `line` (like regex_search).
    bool found_in(std::string_view line) const;

private:
    explicit LogPattern(std::unique_ptr<const re2::RE2> re) noexcept;
    std::unique_ptr<const re2::RE2> re_;
};

}  // namespace reins::supervisor
