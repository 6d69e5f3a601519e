#include "reins/supervisor/log_pattern.hpp"

#include <re2/re2.h>

namespace reins::supervisor {
namespace {

// What RE2 refuses that Perl or JavaScript patterns often use, when that is
// why `re` failed to compile ("" otherwise).
std::string unsupported(const re2::RE2& re) {
    const std::string& arg = re.error_arg();
    if (re.error_code() == re2::RE2::ErrorBadEscape && arg.size() == 2 && arg[1] >= '1' && arg[1] <= '9')
        return "backreferences are not supported in RE2 syntax";
    if (re.error_code() == re2::RE2::ErrorBadPerlOp) {
        if (arg == "(?=" || arg == "(?!") return "lookahead is not supported in RE2 syntax";
        if (arg == "(?<") return "lookbehind is not supported in RE2 syntax (a named group is written (?P<name>...))";
    }
    return {};
}

}  // namespace

Result<LogPattern> LogPattern::compile(std::string_view pattern) {
    if (pattern.size() > max_size)
        return fail(Errc::config, "a readiness regex is at most " + std::to_string(max_size) + " characters long");
    re2::RE2::Options options;
    options.set_log_errors(false);  // the error is returned, not printed on reins' stderr
    options.set_max_mem(max_mem);
    auto re = std::make_unique<const re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
    if (!re->ok()) {
        std::string why = re->error();
        if (auto hint = unsupported(*re); !hint.empty()) why += " (" + hint + ")";
        return fail(Errc::config, std::move(why));
    }
    return LogPattern(std::move(re));
}

LogPattern::LogPattern(std::unique_ptr<const re2::RE2> re) noexcept : re_(std::move(re)) {}
LogPattern::LogPattern(LogPattern&&) noexcept = default;
LogPattern& LogPattern::operator=(LogPattern&&) noexcept = default;
LogPattern::~LogPattern() = default;

bool LogPattern::found_in(std::string_view line) const {
    return re2::RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), *re_);
}

}  // namespace reins::supervisor
