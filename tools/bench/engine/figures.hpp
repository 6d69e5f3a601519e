// reins-bench-engine: each figure's two sides — the --run modes that measure
// (in a child process) and the tables the driver prints from their results.
#pragma once

#include <ctime>

namespace engine_bench {

// Figures 1–3 (latency.cpp): a zero-backoff crash loop, with and without a Supervisor.
int child_exit_now(const timespec& start, const char* file);  // --child-exit-now FILE; never returns
int run_baseline();                                           // --run baseline
int run_crash(bool subreaper);                                // --run crash 0|1
void print_latency_figures();

// N idle services (idle_services.cpp): --run mem|sites N for figure 4, --run idle N for figure 5.
int run_idle(int n, bool wait_for_term);

void print_memory_figure();    // figure 4 (memory.cpp)
void print_idle_cpu_figure();  // figure 5 (idle_cpu.cpp)

}  // namespace engine_bench
