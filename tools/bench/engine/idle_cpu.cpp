// reins-bench-engine, figure 5: CPU while idle. A --run idle child runs 100
// idle services; this driver reads its context switches (all threads) and
// CPU ticks from /proc, 5 s apart, while it sits idle.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include <dirent.h>
#include <unistd.h>

#include "child_driver.hpp"
#include "figures.hpp"
#include "measure.hpp"

namespace engine_bench {

using namespace std::chrono_literals;

namespace {

constexpr int idle_services = 100;
constexpr int idle_seconds = 5;

// Context switches (voluntary + involuntary, all threads) and CPU ticks of `pid`.
struct Wakeups {
    long long switches = 0;
    long long ticks = 0;
    int threads = 0;
};

Wakeups wakeups_of(pid_t pid) {
    Wakeups w;
    std::string base = "/proc/" + std::to_string(pid);
    if (DIR* d = ::opendir((base + "/task").c_str())) {
        while (dirent* e = ::readdir(d)) {
            if (e->d_name[0] == '.') continue;
            ++w.threads;
            std::ifstream f(base + "/task/" + e->d_name + "/status");
            std::string line;
            while (std::getline(f, line))
                if (line.rfind("voluntary_ctxt_switches:", 0) == 0 || line.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
                    w.switches += std::atoll(line.c_str() + line.find(':') + 1);
        }
        ::closedir(d);
    }
    // utime and stime are fields 14 and 15 (11 and 12 after the command name).
    std::ifstream f(base + "/stat");
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto paren = text.rfind(')');
    if (paren != std::string::npos) {
        auto w2 = words(text.substr(paren + 1));
        if (w2.size() > 12) w.ticks = std::atoll(w2[11].c_str()) + std::atoll(w2[12].c_str());
    }
    return w;
}

}  // namespace

void print_idle_cpu_figure() {
    // 5. idle wakeups: measured from here while the child sits idle
    Wakeups w0, w1;
    double waited = 0;
    auto idle = run_child({"idle", std::to_string(idle_services)}, 60s, [&](pid_t pid, const std::string& key) {
        if (key != "READY") return;
        ::usleep(200 * 1000);
        w0 = wakeups_of(pid);
        auto t0 = Clock::now();
        ::sleep(idle_seconds);
        w1 = wakeups_of(pid);
        waited = std::chrono::duration<double>(Clock::now() - t0).count();
        ::kill(pid, SIGTERM);  // it stops its services and exits
    });
    std::printf("\n## 5. CPU while idle, no probes\n\n");
    std::printf("| services | window | threads | wakeups (context switches) | per second | CPU | target |\n"
                "|---:|---:|---:|---:|---:|---:|---|\n");
    long long ticks = w1.ticks - w0.ticks;
    std::printf("| %d | %.1f s | %d | %lld | %.1f | %lld ms | 0 wakeups/s |\n", idle_services, waited, w1.threads,
                w1.switches - w0.switches, waited > 0 ? double(w1.switches - w0.switches) / waited : -1.0,
                ticks * 1000 / ::sysconf(_SC_CLK_TCK));
    std::printf("\nMethod: a fresh process runs %d `sleep 3600` services; once all run (and 200 ms more), this "
                "driver reads voluntary + nonvoluntary context switches of every thread from "
                "/proc/PID/task/*/status, and utime+stime from /proc/PID/stat, %d s apart; each wakeup of "
                "the loop costs at least one voluntary switch.\n",
                idle_services, idle_seconds);
    problem(idle, "idle");
}

}  // namespace engine_bench
