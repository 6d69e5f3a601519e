// reins-bench-spawn: what starting one child costs the supervising process,
// as a Markdown table (docs/benchmarks.md, Spawning).
//
//   spawn → exec'd     wall time of Process::spawn() for /bin/true: it
//                      returns once the child's execve succeeded
//   CPU per spawn      getrusage(RUSAGE_SELF) user + system time over RUNS
//                      spawns and waits, divided by RUNS (the children's
//                      own CPU is not included)
//
// Each is measured with no heap to speak of and again after allocating and
// touching a 50 MiB heap: a fork copies the parent's page tables, so its
// cost grows with the parent's memory; a vfork-style spawn does not.
//
// Build it optimized (-Dbuildtype=release); numbers from a debug build say
// little.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <uv.h>

#include "reins/async/loop.hpp"
#include "reins/async/process.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using reins::Task;

constexpr int runs = 500;
constexpr std::size_t big_heap = std::size_t{50} << 20;

struct Figures {
    double median_us = 0;
    double p99_us = 0;
    double cpu_us = 0;  // per spawn
    int failures = 0;
};

double cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
    return sec(ru.ru_utime) + sec(ru.ru_stime);
}

Task<Figures> measure() {
    Figures f;
    std::vector<double> samples;
    samples.reserve(runs);
    const double cpu0 = cpu_seconds();
    for (int i = 0; i < runs; ++i) {
        reins::ProcessOptions o;
        o.argv = {"/bin/true"};
        o.out = reins::Stdio::null;
        o.err = reins::Stdio::null;
        auto t0 = Clock::now();
        auto p = reins::Process::spawn(std::move(o));
        samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (!p) {
            ++f.failures;
            continue;
        }
        auto r = co_await p->wait();
        if (!r || !r->success()) ++f.failures;
    }
    f.cpu_us = (cpu_seconds() - cpu0) * 1e6 / runs;
    std::sort(samples.begin(), samples.end());
    f.median_us = samples[samples.size() / 2];
    f.p99_us = samples[std::min(samples.size() - 1, samples.size() * 99 / 100)];
    co_return f;
}

}  // namespace

int main() {
    std::signal(SIGPIPE, SIG_IGN);
    uv_disable_stdio_inheritance();

    reins::Loop loop;
    Figures small = loop.run(measure());
    // Touched, so that every page is mapped (and its page-table entry exists).
    auto* heap = static_cast<char*>(std::malloc(big_heap));
    if (heap) std::memset(heap, 1, big_heap);
    Figures big = loop.run(measure());
    auto closed = loop.close();
    if (!closed) {
        std::fprintf(stderr, "reins-bench-spawn: %s\n", closed.error().message().c_str());
        return 3;
    }
    double load[3] = {0, 0, 0};
    ::getloadavg(load, 3);

    std::printf("| parent heap | runs | spawn → exec'd, median | p99 | supervisor CPU per spawn |\n");
    std::printf("|---|---:|---:|---:|---:|\n");
    std::printf("| ~0 | %d | %.0f µs | %.0f µs | %.0f µs |\n", runs, small.median_us, small.p99_us, small.cpu_us);
    std::printf("| 50 MiB (touched) | %d | %.0f µs | %.0f µs | %.0f µs |\n", runs, big.median_us, big.p99_us,
                big.cpu_us);
    std::printf("\nload average %.1f %.1f %.1f\n", load[0], load[1], load[2]);
    std::free(heap);
    if (small.failures + big.failures > 0) {
        std::fprintf(stderr, "reins-bench-spawn: %d spawns failed\n", small.failures + big.failures);
        return 1;
    }
    return 0;
}
