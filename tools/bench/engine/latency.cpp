// reins-bench-engine, figures 1–3: a zero-backoff crash loop.
//
//   1. child exit → event observed      the child stamps CLOCK_MONOTONIC just
//                                       before _exit; the EventBus listener
//                                       stamps steady_clock (the same clock)
//   2. child exit → replacement exec'd  the listener stamps the next
//                                       `starting` (spawn() returns once the
//                                       child exec'd); the next child also
//                                       stamps the top of its main()
//   3. supervisor CPU per restart       getrusage(RUSAGE_SELF) over a crash
//                                       loop (children's CPU is not in it)
//
// The children of the crash loops are this executable again
// (--child-exit-now); the floor is the same child under a blocking
// fork/exec/waitpid loop (--run baseline).
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child_driver.hpp"
#include "figures.hpp"
#include "measure.hpp"
#include "percentiles.hpp"
#include "reins/async/channel.hpp"
#include "reins/async/loop.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/async/when.hpp"
#include "reins/supervisor/process_tree.hpp"
#include "reins/supervisor/supervisor.hpp"
#include "table_cells.hpp"

namespace engine_bench {

using namespace std::chrono_literals;
using reins::Task;
using bench::stats;
namespace sv = reins::supervisor;

namespace {

constexpr int baseline_runs = 500;  // fork/exec/waitpid loop without reins
constexpr int crash_warmup = 20;    // restarts not measured (caches, first spawn)
constexpr int crash_runs = 500;     // measured restarts per crash loop

int64_t ns_of(const timespec& t) { return int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec; }

// pid → {start ns, exit ns}, as the --child-exit-now children wrote them.
std::map<int, std::pair<int64_t, int64_t>> read_child_stamps(const std::string& path) {
    std::map<int, std::pair<int64_t, int64_t>> out;
    std::ifstream f(path);
    int pid = 0;
    long long start = 0, exit = 0;
    while (f >> pid >> start >> exit) out[pid] = {start, exit};
    return out;
}

}  // namespace

// ---- --child-exit-now FILE: the crash-loop child -------------------------------

// Appends "pid start exit" (CLOCK_MONOTONIC ns) and exits 1. `start` was
// taken first thing in main(); `exit` just before the write and _exit.
int child_exit_now(const timespec& start, const char* file) {
    int fd = ::open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    timespec end{};
    ::clock_gettime(CLOCK_MONOTONIC, &end);
    char line[80];
    int n = std::snprintf(line, sizeof line, "%d %lld %lld\n", static_cast<int>(::getpid()),
                          static_cast<long long>(ns_of(start)), static_cast<long long>(ns_of(end)));
    if (fd >= 0 && n > 0) (void)!::write(fd, line, static_cast<std::size_t>(n));
    ::_exit(1);
}

// ---- --run baseline: the same child, a blocking fork/exec/waitpid loop -------

namespace {

// Emits FIG1 (exit → seen), FIG2 (exit → next exec'd), MAIN (exit → next
// main()), SPAWN (exec'd → main(): exec's tail and ld.so in the child).
void emit_latencies(const std::vector<int>& pids, const std::vector<int64_t>& execd,
                    const std::vector<int64_t>& seen_at, const std::map<int, std::pair<int64_t, int64_t>>& stamps,
                    std::size_t from, std::size_t to) {
    std::vector<double> seen, next_exec, next_main, spawn;
    to = std::min({to, pids.size(), execd.size(), seen_at.size()});
    for (std::size_t k = from; k < to; ++k) {
        auto it = stamps.find(pids[k]);
        if (it == stamps.end()) continue;
        const int64_t exit = it->second.second;
        seen.push_back(double(seen_at[k] - exit) / 1000.0);
        spawn.push_back(double(it->second.first - execd[k]) / 1000.0);
        if (k + 1 < pids.size() && k + 1 < execd.size()) {
            next_exec.push_back(double(execd[k + 1] - exit) / 1000.0);
            if (auto nx = stamps.find(pids[k + 1]); nx != stamps.end())
                next_main.push_back(double(nx->second.first - exit) / 1000.0);
        }
    }
    auto s1 = stats(seen), s2 = stats(next_exec), s3 = stats(next_main), s4 = stats(spawn);
    emit("FIG1 %.1f %.1f %zu", s1.median, s1.p99, s1.n);
    emit("FIG2 %.1f %.1f %zu", s2.median, s2.p99, s2.n);
    emit("MAIN %.1f %.1f %zu", s3.median, s3.p99, s3.n);
    emit("SPAWN %.1f %.1f %zu", s4.median, s4.p99, s4.n);
}

}  // namespace

int run_baseline() {
    std::string file = temp_file("baseline");
    std::vector<int> pids;
    std::vector<int64_t> execd, reaped;
    double cpu0 = cpu_us_self();
    for (int i = 0; i < baseline_runs; ++i) {
        // exec'd = the close-on-exec pipe reads EOF (posix_spawn also returns after the exec).
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) break;
        pid_t pid = ::fork();
        if (pid == 0) {
            const char* argv[] = {g_self.c_str(), "--child-exit-now", file.c_str(), nullptr};
            ::execv(argv[0], const_cast<char**>(argv));
            ::_exit(127);
        }
        ::close(fds[1]);
        char c;
        while (pid > 0 && ::read(fds[0], &c, 1) < 0 && errno == EINTR) {
        }
        int64_t t_exec = now_ns();
        ::close(fds[0]);
        if (pid < 0) continue;
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        reaped.push_back(now_ns());
        execd.push_back(t_exec);
        pids.push_back(pid);
    }
    double cpu = cpu_us_self() - cpu0;
    auto stamps = read_child_stamps(file);
    ::unlink(file.c_str());
    emit_latencies(pids, execd, reaped, stamps, 0, pids.size());
    emit("FIG3 %.1f %.1f %zu", pids.empty() ? 0.0 : cpu / double(pids.size()), 0.0, pids.size());
    return stamps.size() == pids.size() ? 0 : 1;
}

// ---- --run crash SUBREAPER: a zero-backoff crash loop under a Supervisor -----

namespace {

struct Crash {
    std::vector<int> start_pids;      // pid of each `starting` transition, in order
    std::vector<int64_t> started_at;  // …and when it was seen (uv_spawn returns once the child exec'd)
    std::vector<int64_t> ended;       // steady_clock ns of each transition out of starting/running
    double cpu0 = 0, cpu1 = 0;
    int64_t wall0 = 0, wall1 = 0;
    reins::Channel<int> done{1};
};

Task<void> crash_main(sv::Supervisor* sup, Crash* c, bool* timed_out) {
    reins::TaskScope scope = reins::TaskScope::shielded();
    std::stop_source sup_stop;
    scope.spawn(sup->run(sup_stop.get_token()));
    auto started = co_await sup->start();
    (void)started;  // the child exits at once: the start may count as failed; the loop goes on
    auto wait = [c](std::stop_token s) { return c->done.recv(std::move(s)); };
    auto r = co_await reins::with_timeout(std::chrono::milliseconds(90s), {}, wait);
    *timed_out = !r;
    sup_stop.request_stop();
    co_await scope.join();
}

// Wall and CPU of one /proc scan (what the engine does at every ending).
void measure_scan() {
    constexpr int scans = 100;
    int procs = 0;
    if (DIR* d = ::opendir("/proc")) {
        while (dirent* e = ::readdir(d))
            if (e->d_name[0] >= '1' && e->d_name[0] <= '9') ++procs;
        ::closedir(d);
    }
    double cpu0 = cpu_us_self();
    int64_t t0 = now_ns();
    std::size_t found = 0;
    for (int i = 0; i < scans; ++i) found += sv::service_processes(INT_MAX, "bench.nobody").size();
    double wall = double(now_ns() - t0) / 1000.0 / scans;
    double cpu = (cpu_us_self() - cpu0) / scans;
    emit("SCAN %.1f %.1f %d %zu", cpu, wall, procs, found);
}

}  // namespace

int run_crash(bool subreaper) {
    std::string file = temp_file("crash");
    Crash c;
    bool timed_out = false;
    {
        reins::Loop loop;
        sv::SupervisorOptions opts;
        opts.subreaper = subreaper;
        sv::Supervisor sup(opts);
        sv::ServiceSpec s;
        s.name = "crash";
        s.command = sv::CommandSpec{std::vector<std::string>{g_self, "--child-exit-now", file}};
        s.restart.mode = sv::RestartMode::always;
        s.restart.initial = sv::Millis(0);
        s.restart.jitter = 0;
        s.restart.max_restarts = INT_MAX;
        s.restart.window = sv::Millis(1);
        s.stop.timeout = sv::Millis(2000);
        if (auto added = sup.add(s); !added) {
            std::fprintf(stderr, "add: %s\n", added.error().message().c_str());
            return 2;
        }
        sup.events().add_listener([&c](const sv::ServiceEvent& e) {
            using S = sv::ServiceState;
            if (e.to == S::starting && e.from != S::starting) {
                c.start_pids.push_back(e.pid);
                c.started_at.push_back(now_ns());
            }
            bool was_up = e.from == S::starting || e.from == S::running;
            bool is_up = e.to == S::starting || e.to == S::running;
            if (!was_up || is_up) return;
            c.ended.push_back(now_ns());
            if (c.ended.size() == crash_warmup) {
                c.cpu0 = cpu_us_self();
                c.wall0 = c.ended.back();
            } else if (c.ended.size() == crash_warmup + crash_runs) {
                c.cpu1 = cpu_us_self();
                c.wall1 = c.ended.back();
                (void)c.done.try_send(1);
            }
        });
        loop.run(crash_main(&sup, &c, &timed_out));
        if (auto closed = loop.close(); !closed) {
            std::fprintf(stderr, "loop close: %s\n", closed.error().message().c_str());
            return 3;
        }
    }
    auto stamps = read_child_stamps(file);
    ::unlink(file.c_str());
    if (timed_out) std::fprintf(stderr, "crash loop: only %zu endings within 90 s\n", c.ended.size());
    emit_latencies(c.start_pids, c.started_at, c.ended, stamps, crash_warmup, crash_warmup + crash_runs);
    if (!timed_out)
        emit("FIG3 %.1f %.1f %d", (c.cpu1 - c.cpu0) / crash_runs, double(c.wall1 - c.wall0) / 1000.0 / crash_runs,
             crash_runs);
    measure_scan();
    return timed_out ? 1 : 0;
}

// ---- the tables -----------------------------------------------------------------

void print_latency_figures() {
    auto base = run_child({"baseline"}, 60s);
    auto off = run_child({"crash", "0"}, 120s);
    auto on = run_child({"crash", "1"}, 120s);

    // 1. child exit → event observed
    std::printf("\n## 1. child exit → event observed\n\n");
    std::printf("| setup | events | median | p99 |\n|---|---:|---:|---:|\n");
    std::printf("| no supervisor: blocking waitpid() returns (floor) | %.0f | %s | %s |\n", num(base, "FIG1", 2),
                us(num(base, "FIG1", 0)).c_str(), us(num(base, "FIG1", 1)).c_str());
    std::printf("| reins, subreaper off (embedded) | %.0f | %s | %s |\n", num(off, "FIG1", 2),
                us(num(off, "FIG1", 0)).c_str(), us(num(off, "FIG1", 1)).c_str());
    std::printf("| reins, subreaper on (as the reins executable) | %.0f | %s | %s |\n", num(on, "FIG1", 2),
                us(num(on, "FIG1", 0)).c_str(), us(num(on, "FIG1", 1)).c_str());
    std::printf("\nMethod: one service running `reins-bench-engine --child-exit-now FILE` (restart always, "
                "initial 0, jitter 0), which appends its CLOCK_MONOTONIC time and `_exit(1)`s; an EventBus "
                "listener stamps steady_clock (CLOCK_MONOTONIC) on each transition out of starting/running. "
                "%d restarts after %d warm-up ones; the floor is the same child under a blocking "
                "fork/exec/waitpid loop.\n",
                crash_runs, crash_warmup);

    // 2. child exit → replacement exec'd
    std::printf("\n## 2. child exit → replacement exec'd, zero backoff\n\n");
    std::printf("| setup | restarts | exit → exec'd, median | p99 | exit → next main(), median | p99 | exec'd → "
                "main() (ld.so), median | target |\n|---|---:|---:|---:|---:|---:|---:|---|\n");
    auto row2 = [](const char* what, const Child& c, const char* target) {
        std::printf("| %s | %.0f | %s | %s | %s | %s | %s | %s |\n", what, num(c, "FIG2", 2),
                    us(num(c, "FIG2", 0)).c_str(), us(num(c, "FIG2", 1)).c_str(), us(num(c, "MAIN", 0)).c_str(),
                    us(num(c, "MAIN", 1)).c_str(), us(num(c, "SPAWN", 0)).c_str(), target);
    };
    row2("no supervisor: waitpid + fork + exec loop (floor)", base, "");
    row2("reins, subreaper off", off, "≤ 1 ms median");
    row2("reins, subreaper on", on, "≤ 1 ms median");
    std::printf("\nMethod: the same crash loop. exec'd = when the parent learns the exec succeeded: "
                "uv_spawn() blocks on a close-on-exec pipe until the child's execve, and the engine publishes "
                "`starting` right after (the EventBus listener stamps it); the floor reads such a pipe "
                "itself. next main() = the next child's own CLOCK_MONOTONIC stamp at the top of main(), "
                "which adds the end of execve and dynamic loading of this C++ binary (last column). "
                "Peers: runit 2.4 ms, s6 2.5 ms.\n");

    // 3. supervisor CPU per crash-loop restart
    std::printf("\n## 3. supervisor CPU per crash-loop restart\n\n");
    std::printf("| setup | restarts | CPU per restart | wall per restart | target |\n|---|---:|---:|---:|---|\n");
    std::printf("| no supervisor: parent of a fork/exec/waitpid loop (floor) | %.0f | %s | | |\n",
                num(base, "FIG3", 2), us(num(base, "FIG3", 0)).c_str());
    std::printf("| reins, subreaper off | %.0f | %s | %s | ≤ 0.5 ms |\n", num(off, "FIG3", 2),
                us(num(off, "FIG3", 0)).c_str(), us(num(off, "FIG3", 1)).c_str());
    std::printf("| reins, subreaper on | %.0f | %s | %s | ≤ 0.5 ms |\n", num(on, "FIG3", 2),
                us(num(on, "FIG3", 0)).c_str(), us(num(on, "FIG3", 1)).c_str());
    std::printf("| one /proc scan for a service's processes (%.0f processes in /proc) | | %s | %s | |\n",
                num(off, "SCAN", 2), us(num(off, "SCAN", 0)).c_str(), us(num(off, "SCAN", 1)).c_str());
    std::printf("\nMethod: getrusage(RUSAGE_SELF) user+system time of the supervising process (children "
                "excluded; the fork is the parent's) between the %dth and the %dth ending of the crash loop "
                "above, divided by %d. The last row is `service_processes()` alone, which the engine runs "
                "at every ending (stop_instance looks for survivors).\n",
                crash_warmup, crash_warmup + crash_runs, crash_runs);
    problem(base, "baseline");
    problem(off, "crash loop, subreaper off");
    problem(on, "crash loop, subreaper on");
}

}  // namespace engine_bench
