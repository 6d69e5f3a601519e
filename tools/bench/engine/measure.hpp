// reins-bench-engine: what the measuring side of every figure uses — this
// executable's path, the clock, CPU time, one result line to the driver, and
// the `sleep` the idle services run (percentiles.hpp has the percentiles).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace engine_bench {

using Clock = std::chrono::steady_clock;

extern std::string g_self;  // this executable (/proc/self/exe), set first thing in main()

int64_t now_ns();      // steady_clock (CLOCK_MONOTONIC on Linux)
double cpu_us_self();  // user + system time of this process, µs

// One machine-readable line to the driver: a key word, then numbers.
void emit(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

std::string temp_file(const char* what);  // created empty under /tmp; the caller unlinks it
std::string sleep_path();                 // the `sleep` the idle services run
bool alive_not_zombie(int pid);

}  // namespace engine_bench
