#include "reins/config/diagnostic.hpp"

#include <algorithm>
#include <string_view>
#include <tuple>

namespace reins::config {
namespace {

constexpr std::string_view kRed = "\x1b[1;31m";
constexpr std::string_view kYellow = "\x1b[1;33m";
constexpr std::string_view kBold = "\x1b[1m";
constexpr std::string_view kCyan = "\x1b[36m";
constexpr std::string_view kReset = "\x1b[0m";

std::string painted(std::string_view text, std::string_view color, bool on) {
    if (!on) return std::string(text);
    return std::string(color) + std::string(text) + std::string(kReset);
}

/// At most 120 columns of the line around `column`, with the column moved
/// to match: (text, column in it).
std::pair<std::string, int> clip(std::string_view line, int column) {
    constexpr int width = 120;
    int start = 0;
    if (static_cast<int>(line.size()) > width && column > width - 20) start = column - (width - 20);
    std::string out(line.substr(static_cast<std::size_t>(start), width));
    if (start > 0) out = "…" + out;
    if (static_cast<int>(line.size()) > start + width) out += "…";
    return {out, column - start + (start > 0 ? 1 : 0)};
}

}  // namespace

std::string format(const Diagnostic& d, FormatOptions o) {
    std::string where = d.file;
    if (d.line > 0) {
        where += ":" + std::to_string(d.line);
        if (d.column > 0) where += ":" + std::to_string(d.column);
    }
    std::string out = painted(where + ":", kBold, o.color) + " ";
    out += d.is_error() ? painted("error:", kRed, o.color) : painted("warning:", kYellow, o.color);
    out += " " + d.message;
    if (!d.hint.empty()) out += " — " + d.hint;
    if (o.excerpt && d.line > 0 && !d.excerpt.empty()) {
        auto [text, col] = clip(d.excerpt, d.column);
        std::string num = std::to_string(d.line);
        std::string gutter(num.size(), ' ');
        out += "\n " + painted(num + " |", kCyan, o.color) + " " + text;
        if (d.column > 0) {
            // Keep tabs so the caret lines up under the column in a terminal.
            std::string pad;
            for (int i = 0; i + 1 < col && i < static_cast<int>(text.size()); ++i) pad += text[static_cast<std::size_t>(i)] == '\t' ? '\t' : ' ';
            out += "\n " + painted(gutter + " |", kCyan, o.color) + " " + pad +
                   painted("^", d.is_error() ? kRed : kYellow, o.color);
        }
    }
    return out;
}

bool has_errors(const std::vector<Diagnostic>& ds) noexcept {
    return std::any_of(ds.begin(), ds.end(), [](const Diagnostic& d) { return d.is_error(); });
}

void sort_unique(std::vector<Diagnostic>& ds) {
    auto pos = [](const Diagnostic& d) { return std::tie(d.file, d.line, d.column); };
    std::stable_sort(ds.begin(), ds.end(), [&](const Diagnostic& a, const Diagnostic& b) { return pos(a) < pos(b); });
    auto same = [](const Diagnostic& a, const Diagnostic& b) {
        return a.severity == b.severity && a.file == b.file && a.line == b.line && a.column == b.column &&
               a.message == b.message && a.key == b.key;
    };
    std::vector<Diagnostic> out;
    out.reserve(ds.size());
    for (auto& d : ds) {
        // Duplicates share a position, so they are neighbours in a run.
        bool dup = false;
        for (auto it = out.rbegin(); it != out.rend() && pos(*it) == pos(d); ++it)
            if (same(*it, d)) dup = true;
        if (!dup) out.push_back(std::move(d));
    }
    ds = std::move(out);
}

void add_excerpts(std::vector<Diagnostic>& ds, const std::string& file, std::string_view text) {
    // One pass over the text for all of them: index the line starts once.
    std::vector<std::size_t> starts{0};
    for (std::size_t i = 0; i < text.size(); ++i)
        if (text[i] == '\n') starts.push_back(i + 1);
    for (auto& d : ds) {
        if (d.file != file || d.line <= 0 || static_cast<std::size_t>(d.line) > starts.size()) continue;
        std::size_t b = starts[static_cast<std::size_t>(d.line) - 1];
        std::size_t e = text.find('\n', b);
        std::string_view line = text.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        d.excerpt = std::string(line);
    }
}

}  // namespace reins::config
