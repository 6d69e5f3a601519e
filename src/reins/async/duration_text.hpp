// Durations as a person writes them, for messages: "250ms", "1.6s", "5m",
// "2m30s", "1h". (Config files round-trip through reins::config's exact
// format_duration instead; this one rounds.)
#pragma once

#include <chrono>
#include <string>

namespace reins {

/// Below 1 s in milliseconds; below a minute in seconds with at most one
/// decimal; then minutes (and seconds), hours (and minutes).
std::string human_duration(std::chrono::milliseconds d);

}  // namespace reins
