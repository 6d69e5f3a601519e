// reins-bench-runtime: what the coroutine runtime costs, as a Markdown table.
//
//   spawn -> exit observed  /bin/true, from just before Process::spawn to the
//                           moment the coroutine awaiting wait() resumes
//   fork+exec+waitpid       the same without reins (a blocking baseline, run
//                           before the loop exists): what the machine costs
//   sleep overshoot         actual - requested for sleep(1ms) and sleep(10ms)
//   Channel hand-off        ping-pong between two tasks through two
//                           Channel<int>(1); ns per message (one direction)
//
// Build it optimized (-Dbuildtype=release); numbers from a debug build say
// little.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "percentiles.hpp"
#include "reins/async/channel.hpp"
#include "reins/async/loop.hpp"
#include "reins/async/process.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/async/timer.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using reins::Task;

constexpr int spawn_runs = 1000;
constexpr int sleep_runs = 200;
constexpr int channel_messages = 1'000'000;

using bench::Stats;  // of samples in microseconds
using bench::stats;

double us_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

struct Report {
    Stats baseline;
    Stats spawn;
    int spawn_failures = 0;
    Stats sleep1;
    Stats sleep10;
    double ns_per_message = 0;
};

// fork + execv + waitpid, blocking, before any Loop exists (so libuv's
// SIGCHLD watcher is not installed and nothing else reaps our children).
Stats bench_baseline() {
    std::vector<double> samples;
    samples.reserve(spawn_runs);
    for (int i = 0; i < spawn_runs; ++i) {
        char arg0[] = "/bin/true";
        char* argv[] = {arg0, nullptr};
        auto t0 = Clock::now();
        pid_t pid = ::fork();
        if (pid == 0) {
            ::execv(arg0, argv);
            ::_exit(127);
        }
        if (pid < 0) continue;
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0) {
        }
        samples.push_back(us_since(t0));
    }
    return stats(std::move(samples));
}

Task<void> bench_spawn(Report* out) {
    std::vector<double> samples;
    samples.reserve(spawn_runs);
    for (int i = 0; i < spawn_runs; ++i) {
        reins::ProcessOptions o;
        o.argv = {"/bin/true"};
        o.out = reins::Stdio::null;
        o.err = reins::Stdio::null;
        auto t0 = Clock::now();
        auto p = reins::Process::spawn(std::move(o));
        if (!p) {
            ++out->spawn_failures;
            continue;
        }
        auto r = co_await p->wait();
        double us = us_since(t0);
        if (!r || !r->success()) {
            ++out->spawn_failures;
            continue;
        }
        samples.push_back(us);
    }
    if (!samples.empty()) out->spawn = stats(std::move(samples));
}

Task<void> bench_sleep(std::chrono::milliseconds d, Stats* out) {
    std::vector<double> samples;
    samples.reserve(sleep_runs);
    const double requested = std::chrono::duration<double, std::micro>(d).count();
    for (int i = 0; i < sleep_runs; ++i) {
        auto t0 = Clock::now();
        auto r = co_await reins::sleep(d);
        double us = us_since(t0);
        if (r) samples.push_back(us - requested);
    }
    *out = stats(std::move(samples));
}

Task<void> pinger(reins::Channel<int>* ping, reins::Channel<int>* pong, int rounds) {
    for (int i = 0; i < rounds; ++i) {
        auto s = co_await ping->send(i);
        if (!s) co_return;
        auto r = co_await pong->recv();
        if (!r) co_return;
    }
    ping->close();
}

Task<void> ponger(reins::Channel<int>* ping, reins::Channel<int>* pong) {
    for (;;) {
        auto v = co_await ping->recv();
        if (!v) co_return;  // closed: done
        auto s = co_await pong->send(*v);
        if (!s) co_return;
    }
}

Task<void> bench_channel(Report* out) {
    reins::Channel<int> ping(1);
    reins::Channel<int> pong(1);
    reins::TaskScope scope = reins::TaskScope::shielded();
    auto t0 = Clock::now();
    scope.spawn(ponger(&ping, &pong));
    scope.spawn(pinger(&ping, &pong, channel_messages / 2));  // two messages a round trip
    co_await scope.join();
    out->ns_per_message = us_since(t0) * 1000.0 / channel_messages;
}

Task<Report> run_all() {
    Report rep;
    co_await bench_spawn(&rep);
    co_await bench_sleep(std::chrono::milliseconds(1), &rep.sleep1);
    co_await bench_sleep(std::chrono::milliseconds(10), &rep.sleep10);
    co_await bench_channel(&rep);
    co_return rep;
}

}  // namespace

int main() {
    std::signal(SIGPIPE, SIG_IGN);
    uv_disable_stdio_inheritance();

    Stats baseline = bench_baseline();
    reins::Loop loop;
    Report rep = loop.run(run_all());
    rep.baseline = baseline;
    auto closed = loop.close();
    if (!closed) {
        std::fprintf(stderr, "reins-bench-runtime: %s\n", closed.error().message().c_str());
        return 3;
    }

    std::printf("| measurement | runs | median | p99 |\n");
    std::printf("|---|---:|---:|---:|\n");
    std::printf("| spawn → exit observed (/bin/true) | %d | %.0f µs | %.0f µs |\n", spawn_runs, rep.spawn.median,
                rep.spawn.p99);
    std::printf("| fork+exec+waitpid baseline, no reins | %d | %.0f µs | %.0f µs |\n", spawn_runs,
                rep.baseline.median, rep.baseline.p99);
    std::printf("| sleep(1 ms) overshoot | %d | %.0f µs | %.0f µs |\n", sleep_runs, rep.sleep1.median, rep.sleep1.p99);
    std::printf("| sleep(10 ms) overshoot | %d | %.0f µs | %.0f µs |\n", sleep_runs, rep.sleep10.median,
                rep.sleep10.p99);
    std::printf("| Channel<int> hand-off (ping-pong) | %d msgs | %.1f ns/msg | — |\n", channel_messages,
                rep.ns_per_message);
    if (rep.spawn_failures > 0) {
        std::fprintf(stderr, "reins-bench-runtime: %d spawns failed\n", rep.spawn_failures);
        return 1;
    }
    return 0;
}
