// Durations and sizes: the one place their text forms are read and written
// (docs/config.md, Values), used by the config loader and by every CLI
// flag that takes one.
//
//   durations  "250ms", "5s", "2m", "1h"; also "1.5s" and "1m30s"; "0" alone.
//              Millisecond resolution, never negative, at most 365 days.
//   sizes      "512KiB", "10MiB", "1GiB" (powers of 1024), "10KB", "10MB",
//              "1GB" (powers of 1000), "512B" or a plain number of bytes.
//
// A failure is an Errc::config Error whose context is a whole sentence
// without the name of the setting ("expected a duration like "250ms", "5s",
// "2m" or "1h", found "5 seconds" — did you mean "5s"?"); callers prefix
// the key or the flag: "service.api.stop.timeout: expected ...".
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "reins/async/result.hpp"

namespace reins::config {

/// Durations have millisecond resolution (as the engine's).
using Millis = std::chrono::milliseconds;

/// The longest duration accepted (365 days), so that no arithmetic on a
/// configured duration (backoff × multiplier) can overflow.
inline constexpr Millis max_duration{365LL * 24 * 3600 * 1000};
/// The largest size accepted (1 PiB).
inline constexpr uint64_t max_size = 1ull << 50;

/// Reads a duration ("250ms", "5s", "2m", "1h", "1m30s", "1.5s", "0").
Result<Millis> parse_duration(std::string_view text);

/// The shortest exact form: 300000ms → "5m", 1500ms → "1500ms", 0 → "0s".
/// parse_duration reads it back to the same value.
std::string format_duration(Millis d);

/// Reads a size ("512KiB", "10MiB", "1GiB", "10MB", "512B", "1048576").
Result<uint64_t> parse_size(std::string_view text);

/// The shortest exact form with a unit ("10MiB", "10MB", "1500B"→"1500");
/// parse_size reads it back to the same value.
std::string format_size(uint64_t bytes);

}  // namespace reins::config
