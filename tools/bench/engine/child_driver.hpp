// reins-bench-engine: the driver's side of a measurement. Every measurement
// runs in a fresh child process of this executable (`--run MODE ARG`), so
// nothing accumulates between them; the child reports one line per result
// (a key word, then numbers), and the driver reads them into its tables.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <sys/types.h>

namespace engine_bench {

struct Child {
    std::map<std::string, std::vector<std::string>> lines;  // first word → the rest (last wins)
    std::vector<std::vector<std::string>> sites;             // every SITE line
    std::vector<int> pids;                                   // services it reported
    int status = -1;
    bool timed_out = false;
    int leftovers = 0;  // reported pids still alive after it exited (then killed)
};

// Runs `self --run ARGS...`, collecting its lines; `on_line(child, word)` is
// called as each line arrives (the idle measurement acts on READY). Past
// `deadline` the child gets SIGTERM (it stops its services), then SIGKILL.
// `sites`: run it with REINS_BENCH_SITES=1 (counting_allocator.hpp).
Child run_child(std::vector<std::string> args, std::chrono::seconds deadline,
                std::function<void(pid_t, const std::string&)> on_line = {}, bool sites = false);

// Field `i` of the child's last `key` line, or -1.
double num(const Child& c, const std::string& key, std::size_t i);

// A child that timed out, failed or left a process behind, in bold under the table.
void problem(const Child& c, const char* what);

std::vector<std::string> words(const std::string& s);

}  // namespace engine_bench
