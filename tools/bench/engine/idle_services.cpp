// reins-bench-engine: N idle `sleep 3600` services under one Supervisor, the
// measuring side of figures 4 and 5. `--run mem N` and `--run sites N` report
// this process's memory once all run (figure 4); `--run idle N` reports READY
// and sits idle until SIGTERM while the driver counts its wakeups (figure 5).
// Either way it then stops them all and reports how long the start and the
// stop took, and how many service pids are still alive.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <malloc.h>

#include "counting_allocator.hpp"
#include "figures.hpp"
#include "measure.hpp"
#include "reins/async/loop.hpp"
#include "reins/async/signal_set.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/async/timer.hpp"
#include "reins/supervisor/supervisor.hpp"

namespace engine_bench {

using namespace std::chrono_literals;
using reins::Task;
namespace sv = reins::supervisor;

namespace {

struct Idle {
    int n = 0;
    bool wait_for_term = false;  // idle: report READY, then wait for SIGTERM
    std::vector<int> pids;
    bool ok = false;
    double start_ms = 0, stop_ms = 0;
};

void add_idle_services(sv::Supervisor& sup, int n) {
    const std::string sleep = sleep_path();
    for (int i = 0; i < n; ++i) {
        sv::ServiceSpec s;
        s.name = "idle-" + std::to_string(i);
        s.command = sv::CommandSpec{std::vector<std::string>{sleep, "3600"}};
        s.restart.mode = sv::RestartMode::no;
        s.stop.timeout = sv::Millis(5000);
        (void)sup.add(std::move(s));
    }
}

// Fields of /proc/self/smaps_rollup, in kB.
std::map<std::string, long> smaps_rollup() {
    std::map<std::string, long> out;
    std::ifstream f("/proc/self/smaps_rollup");
    std::string line;
    while (std::getline(f, line)) {
        auto colon = line.find(':');
        if (colon == std::string::npos || line.find("kB") == std::string::npos) continue;
        out[line.substr(0, colon)] = std::strtol(line.c_str() + colon + 1, nullptr, 10);
    }
    return out;
}

// MEM: smaps_rollup fields (kB), live C++ heap (bytes, blocks), malloc in use.
void report_memory(const Idle& st) {
    auto m = smaps_rollup();
    struct mallinfo2 mi = ::mallinfo2();
    emit("MEM %d %ld %ld %ld %ld %ld %lld %lld %zu", st.n, m["Rss"], m["Pss"], m["Private_Clean"] + m["Private_Dirty"],
         m["Pss_Anon"], m["Anonymous"], live_heap_bytes(), live_heap_blocks(), mi.uordblks);
    emit_allocation_sites();  // sites mode only
}

Task<void> idle_main(sv::Supervisor* sup, Idle* st) {
    std::optional<reins::SignalSet> term;
    if (st->wait_for_term) {
        auto set = reins::SignalSet::create({SIGTERM, SIGINT});
        if (set) term.emplace(std::move(*set));
    }
    reins::TaskScope scope = reins::TaskScope::shielded();
    std::stop_source sup_stop;
    scope.spawn(sup->run(sup_stop.get_token()));
    auto t0 = Clock::now();
    auto started = co_await sup->start();
    st->start_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    st->ok = started.has_value();
    if (!started) std::fprintf(stderr, "start: %s\n", started.error().message().c_str());
    int running = 0;
    for (const auto& s : sup->status()) {
        if (s.pid > 0) st->pids.push_back(s.pid);
        if (s.state == sv::ServiceState::running) ++running;
    }
    std::string line = "PIDS";
    for (int p : st->pids) line += " " + std::to_string(p);
    emit("%s", line.c_str());
    if (running != st->n) {
        std::fprintf(stderr, "only %d of %d services running\n", running, st->n);
        st->ok = false;
    }
    auto settled = co_await reins::sleep(200ms);  // let the last spawns' work finish
    (void)settled;
    if (st->ok && !st->wait_for_term) report_memory(*st);
    if (st->ok && term) {
        emit("READY");
        auto sig = co_await term->next();
        (void)sig;
    }
    auto t1 = Clock::now();
    sup_stop.request_stop();
    co_await scope.join();
    st->stop_ms = std::chrono::duration<double, std::milli>(Clock::now() - t1).count();
}

}  // namespace

int run_idle(int n, bool wait_for_term) {
    Idle st;
    st.n = n;
    st.wait_for_term = wait_for_term;
    {
        reins::Loop loop;
        sv::Supervisor sup;
        add_idle_services(sup, n);
        loop.run(idle_main(&sup, &st));
        if (auto closed = loop.close(); !closed) {
            std::fprintf(stderr, "loop close: %s\n", closed.error().message().c_str());
            return 3;
        }
    }
    int left = 0;
    for (int p : st.pids)
        if (alive_not_zombie(p)) ++left;
    emit("TIMES %.1f %.1f %d", st.start_ms, st.stop_ms, left);
    return st.ok && left == 0 ? 0 : 1;
}

}  // namespace engine_bench
