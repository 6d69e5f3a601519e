#include "reins/async/duration_text.hpp"

namespace reins {

std::string human_duration(std::chrono::milliseconds d) {
    long long ms = d.count();
    if (ms < 0) return "-" + human_duration(std::chrono::milliseconds(-ms));
    if (ms < 1000) return std::to_string(ms) + "ms";
    if (ms < 60'000) {
        long long tenths = (ms + 50) / 100;  // rounded to 0.1 s
        if (tenths >= 600) return "1m";
        std::string s = std::to_string(tenths / 10);
        if (tenths % 10) s += "." + std::to_string(tenths % 10);
        return s + "s";
    }
    long long s = (ms + 500) / 1000;  // rounded to whole seconds
    if (s < 3600) {
        std::string out = std::to_string(s / 60) + "m";
        if (s % 60) out += std::to_string(s % 60) + "s";
        return out;
    }
    long long m = (s + 30) / 60;  // rounded to whole minutes
    std::string out = std::to_string(m / 60) + "h";
    if (m % 60) out += std::to_string(m % 60) + "m";
    return out;
}

}  // namespace reins
