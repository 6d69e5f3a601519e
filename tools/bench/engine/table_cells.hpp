// reins-bench-engine: a child's numbers as Markdown table cells.
#pragma once

#include <cstdio>
#include <string>

namespace engine_bench {

// Microseconds, shown in ms from 10 ms on; "—" for a missing number (< 0).
inline std::string us(double v) {
    if (v < 0) return "—";
    char b[32];
    if (v >= 10000) std::snprintf(b, sizeof b, "%.1f ms", v / 1000.0);
    else std::snprintf(b, sizeof b, "%.0f µs", v);
    return b;
}

inline std::string kib(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.0f KiB", v);
    return b;
}

inline std::string kib1(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f KiB", v);
    return b;
}

}  // namespace engine_bench
