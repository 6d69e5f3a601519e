// Benchmarks (reins-bench-runtime, reins-bench-engine): the median and p99
// of a set of samples.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace bench {

struct Stats {
    double median = 0;
    double p99 = 0;
    std::size_t n = 0;  // samples
};

// Nearest-rank percentiles.
inline Stats stats(std::vector<double> v) {
    if (v.empty()) return {};
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
        auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
        return v[std::min(i, v.size() - 1)];
    };
    return {at(0.50), at(0.99), v.size()};
}

}  // namespace bench
