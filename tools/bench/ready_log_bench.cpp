// reins-bench-ready-log: what matching a ready.log pattern (LogPattern, RE2)
// costs per line of output, as a Markdown table.
//
//   1 M lines of 100 bytes   each line searched on its own, as the output
//                            capture does until the service is ready (no line
//                            matches: every byte is looked at)
//   one 10 MB line           in 64 KiB pieces, as LineReader hands it over
//                            (max_line); and in one call, for comparison
//
// Patterns: ".*ready" (the one that overflowed std::regex's recursion) and
// "ready in \d+ ms". The std::regex row is the engine reins used before, on
// 10 000 of the 100-byte lines only: it backtracks (".*ready" is quadratic
// in the line) and on a long line it overflows the stack.
//
// Build it optimized (-Dbuildtype=release); numbers from a debug build say
// little.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "reins/supervisor/log_pattern.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using reins::supervisor::LogPattern;

constexpr std::size_t short_lines = 1'000'000;
constexpr std::size_t old_lines = 10'000;  // std::regex: 0.2 ms a line for ".*ready"
constexpr std::size_t short_size = 100;
constexpr std::size_t long_size = 10'000'000;
constexpr std::size_t piece = 64 * 1024;

// Log-like text without "ready": a line of `size` bytes, varied by `seed`.
std::string filler(std::size_t size, std::size_t seed) {
    static const std::string words =
        "2024-05-01T12:00:00Z info GET /api/items?page=7 status=200 bytes=5120 took 12 ms worker=3 id=";
    std::string s;
    s.reserve(size);
    while (s.size() < size) s += words + std::to_string(seed++) + " ";
    s.resize(size);
    return s;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

template <class Match>
void row(const char* pattern, const char* what, std::size_t bytes, std::size_t calls, Match match) {
    std::size_t hits = 0;
    auto t0 = Clock::now();
    for (std::size_t i = 0; i < calls; ++i) hits += match(i);
    double s = seconds_since(t0);
    double ns = s * 1e9 / static_cast<double>(calls);
    char per[32];
    if (ns < 1e4) std::snprintf(per, sizeof per, "%.0f ns", ns);
    else if (ns < 1e7) std::snprintf(per, sizeof per, "%.1f µs", ns / 1e3);
    else std::snprintf(per, sizeof per, "%.1f ms", ns / 1e6);
    std::printf("| `%s` | %s | %s | %.1f MB/s |%s\n", pattern, what, per, static_cast<double>(bytes) / s / 1e6,
                hits ? " (matched!)" : "");
}

}  // namespace

int main() {
    std::vector<std::string> lines;
    lines.reserve(1000);
    for (std::size_t i = 0; i < 1000; ++i) lines.push_back(filler(short_size, i * 7));
    const std::string big = filler(long_size, 1);

    double load[3] = {0, 0, 0};
    if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
        if (std::fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
        std::fclose(f);
    }
    std::printf("Load average at start: %.2f %.2f %.2f\n\n", load[0], load[1], load[2]);
    std::printf("| pattern | input | per call | throughput |\n|---|---|---:|---:|\n");
    for (const char* pattern : {".*ready", "ready in \\d+ ms"}) {
        auto compiled = LogPattern::compile(pattern);
        if (!compiled) {
            std::fprintf(stderr, "%s: %s\n", pattern, compiled.error().message().c_str());
            return 1;
        }
        const LogPattern& re = *compiled;
        row(pattern, "1 M lines of 100 B, per line", short_lines * short_size, short_lines,
            [&](std::size_t i) { return re.found_in(lines[i % lines.size()]); });
        const std::size_t pieces = (long_size + piece - 1) / piece;
        row(pattern, "10 MB line, per 64 KiB piece", long_size, pieces, [&](std::size_t i) {
            return re.found_in(std::string_view(big).substr(i * piece, piece));
        });
        row(pattern, "10 MB line, in one call", long_size, 1, [&](std::size_t) { return re.found_in(big); });
        const std::regex old(pattern, std::regex::ECMAScript);
        row(pattern, "10 k lines of 100 B, std::regex (before)", old_lines * short_size, old_lines,
            [&](std::size_t i) {
                const std::string& l = lines[i % lines.size()];
                return std::regex_search(l.begin(), l.end(), old);
            });
    }
    return 0;
}
