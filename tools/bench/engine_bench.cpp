// reins-bench-engine: what the supervisor engine (reins::supervisor) costs,
// as Markdown tables (docs/benchmarks.md; method under each table).
//
//   1. child exit → event observed      the child stamps CLOCK_MONOTONIC just
//                                       before _exit; the EventBus listener
//                                       stamps steady_clock (the same clock)
//   2. child exit → replacement exec'd  the listener stamps the next
//                                       `starting` (uv_spawn returns once the
//                                       child exec'd); the next child also
//                                       stamps the top of its main()
//   3. supervisor CPU per restart       getrusage(RUSAGE_SELF) over a crash
//                                       loop (children's CPU is not in it)
//   4. memory with 1 / 100 / 1000 idle  /proc/self/smaps_rollup after all run
//   5. CPU while idle                   context switches of the supervisor
//                                       over 5 s, read from outside
//
// Every measurement runs in a fresh child process of this binary (a --run
// mode), so nothing accumulates between them; the children of the crash
// loops are this binary again (--child-exit-now). Build it optimized: the
// executable is always -O2, and the library it links should be too
// (meson setup -Dbuildtype=release).
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <dirent.h>
#include <execinfo.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "reins/async/channel.hpp"
#include "reins/async/loop.hpp"
#include "reins/async/signal_set.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/async/timer.hpp"
#include "reins/async/when.hpp"
#include "reins/supervisor/process_tree.hpp"
#include "reins/supervisor/supervisor.hpp"

// ---- counting allocator -----------------------------------------------------
// Live bytes and blocks of every C++ allocation, to tell what an idle service
// keeps on the heap. With REINS_BENCH_SITES set in the environment at exec
// (the --run sites mode), each block also carries a 16-byte header naming its
// allocation site: the first caller inside this executable, found with
// backtrace(), so that a std::string growing inside libstdc++ is charged to
// the reins function that made it.

extern "C" char __executable_start;  // linker-defined: the first byte of this executable
extern "C" char etext;               // …and the end of its text

namespace {
std::atomic<long long> g_live_bytes{0};
std::atomic<long long> g_live_blocks{0};

int g_sites = -1;  // -1: not looked up yet (getenv does not allocate)
bool sites_on() {
    if (g_sites < 0) g_sites = std::getenv("REINS_BENCH_SITES") ? 1 : 0;
    return g_sites == 1;
}

constexpr int site_depth = 4;  // frames inside this executable kept per site

struct Site {
    uintptr_t pc[site_depth] = {};  // return addresses inside this executable, innermost first (0: none)
    long long bytes = 0;
    long long blocks = 0;
};
constexpr std::size_t site_slots = 8192;
Site g_site_table[site_slots];  // zero pages (bss): only touched in sites mode
thread_local bool t_in_hook = false;

// Slot of the allocating call path; frame 0 is this function, 1 alloc_impl,
// 2 the operator new, 3 its caller (perhaps inside libstdc++). The driver
// names the site after the first of its frames outside namespace std.
__attribute__((noinline)) uint32_t site_of_caller() {
    if (t_in_hook) return 0;  // backtrace() itself may allocate the first time
    t_in_hook = true;
    void* frames[24];
    int n = ::backtrace(frames, 24);
    const auto lo = reinterpret_cast<uintptr_t>(&__executable_start);
    const auto hi = reinterpret_cast<uintptr_t>(&etext);
    uintptr_t pc[site_depth] = {};
    int kept = 0;
    for (int i = 3; i < n && kept < site_depth; ++i) {
        auto a = reinterpret_cast<uintptr_t>(frames[i]);
        if (a >= lo && a < hi) pc[kept++] = a;
    }
    uint32_t slot = 0;
    if (kept > 0) {
        std::size_t h = 0;
        for (auto a : pc) h = (h ^ (a >> 2)) * 0x9E3779B97F4A7C15ull;
        for (std::size_t k = 0; k < site_slots; ++k) {
            std::size_t i = (h + k) % site_slots;
            if (i == 0) continue;  // slot 0: unknown site
            Site& s = g_site_table[i];
            if (s.pc[0] == 0) std::memcpy(s.pc, pc, sizeof pc);
            if (std::memcmp(s.pc, pc, sizeof pc) == 0) {
                slot = static_cast<uint32_t>(i);
                break;
            }
        }
    }
    t_in_hook = false;
    return slot;
}

struct Header {  // right before the block, in sites mode
    uint64_t size;
    uint32_t slot;
    uint32_t offset;  // from the malloc'd start to the block
};
static_assert(sizeof(Header) == 16);

__attribute__((noinline)) void* alloc_impl(std::size_t n, std::size_t align) {
    if (n == 0) n = 1;
    if (!sites_on()) {
        void* p = align > alignof(std::max_align_t)
                      ? std::aligned_alloc(align, (n + align - 1) / align * align)
                      : std::malloc(n);
        if (p) {
            g_live_bytes.fetch_add(static_cast<long long>(::malloc_usable_size(p)), std::memory_order_relaxed);
            g_live_blocks.fetch_add(1, std::memory_order_relaxed);
        }
        return p;
    }
    const std::size_t off = std::max<std::size_t>(align, sizeof(Header));
    char* raw = static_cast<char*>(align > alignof(std::max_align_t)
                                       ? std::aligned_alloc(align, (n + off + align - 1) / align * align)
                                       : std::malloc(n + off));
    if (!raw) return nullptr;
    char* p = raw + off;
    Header h{n, site_of_caller(), static_cast<uint32_t>(off)};
    std::memcpy(p - sizeof(Header), &h, sizeof h);
    g_site_table[h.slot].bytes += static_cast<long long>(n);
    g_site_table[h.slot].blocks += 1;
    g_live_bytes.fetch_add(static_cast<long long>(n), std::memory_order_relaxed);
    g_live_blocks.fetch_add(1, std::memory_order_relaxed);
    return p;
}

void free_impl(void* p) noexcept {
    if (!p) return;
    if (!sites_on()) {
        g_live_bytes.fetch_sub(static_cast<long long>(::malloc_usable_size(p)), std::memory_order_relaxed);
        g_live_blocks.fetch_sub(1, std::memory_order_relaxed);
        std::free(p);
        return;
    }
    Header h;
    std::memcpy(&h, static_cast<char*>(p) - sizeof(Header), sizeof h);
    g_site_table[h.slot].bytes -= static_cast<long long>(h.size);
    g_site_table[h.slot].blocks -= 1;
    g_live_bytes.fetch_sub(static_cast<long long>(h.size), std::memory_order_relaxed);
    g_live_blocks.fetch_sub(1, std::memory_order_relaxed);
    std::free(static_cast<char*>(p) - h.offset);
}

// Uses `p` after the call so that an operator new is never a tail call (the
// site lookup counts frames).
inline void* keep_frame(void* p) {
    asm volatile("" : : "r"(p) : "memory");
    return p;
}
}  // namespace

void* operator new(std::size_t n) {
    if (void* p = alloc_impl(n, 0)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
    if (void* p = alloc_impl(n, 0)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return keep_frame(alloc_impl(n, 0)); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return keep_frame(alloc_impl(n, 0)); }
void* operator new(std::size_t n, std::align_val_t a) {
    if (void* p = alloc_impl(n, static_cast<std::size_t>(a))) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
    if (void* p = alloc_impl(n, static_cast<std::size_t>(a))) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { free_impl(p); }
void operator delete[](void* p) noexcept { free_impl(p); }
void operator delete(void* p, std::size_t) noexcept { free_impl(p); }
void operator delete[](void* p, std::size_t) noexcept { free_impl(p); }
void operator delete(void* p, std::align_val_t) noexcept { free_impl(p); }
void operator delete[](void* p, std::align_val_t) noexcept { free_impl(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { free_impl(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { free_impl(p); }

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using reins::Task;
namespace sv = reins::supervisor;

constexpr int baseline_runs = 500;  // fork/exec/waitpid loop without reins
constexpr int crash_warmup = 20;    // restarts not measured (caches, first spawn)
constexpr int crash_runs = 500;     // measured restarts per crash loop
constexpr int idle_services = 100;
constexpr int idle_seconds = 5;

std::string g_self;  // this executable (/proc/self/exe)

// ---- small helpers ----------------------------------------------------------

int64_t ns_of(const timespec& t) { return int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec; }

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

double cpu_us_self() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

struct Stats {
    double median = 0;
    double p99 = 0;
    std::size_t n = 0;
};

// Nearest-rank percentiles.
Stats stats(std::vector<double> v) {
    if (v.empty()) return {};
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
        auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
        return v[std::min(i, v.size() - 1)];
    };
    return {at(0.50), at(0.99), v.size()};
}

void emit(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// One machine-readable line to the driver (stdout is a pipe: flush each).
void emit(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stdout, fmt, ap);
    va_end(ap);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

std::string temp_file(const char* what) {
    std::string tmpl = std::string("/tmp/reins-bench-") + what + "-XXXXXX";
    int fd = ::mkstemp(tmpl.data());
    if (fd >= 0) ::close(fd);
    return tmpl;
}

// pid → {start ns, exit ns}, as the --child-exit-now children wrote them.
std::map<int, std::pair<int64_t, int64_t>> read_child_stamps(const std::string& path) {
    std::map<int, std::pair<int64_t, int64_t>> out;
    std::ifstream f(path);
    int pid = 0;
    long long start = 0, exit = 0;
    while (f >> pid >> start >> exit) out[pid] = {start, exit};
    return out;
}

std::string sleep_path() {
    for (const char* p : {"/bin/sleep", "/usr/bin/sleep"})
        if (::access(p, X_OK) == 0) return p;
    return "sleep";
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

int run_baseline() {
    std::string file = temp_file("baseline");
    std::vector<int> pids;
    std::vector<int64_t> execd, reaped;
    double cpu0 = cpu_us_self();
    for (int i = 0; i < baseline_runs; ++i) {
        // exec'd = the close-on-exec pipe reads EOF, as in libuv's uv_spawn.
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

// ---- --run mem N / --run idle N: N idle `sleep 3600` services ----------------

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

void report_memory(const Idle& st) {
    auto m = smaps_rollup();
    struct mallinfo2 mi = ::mallinfo2();
    emit("MEM %d %ld %ld %ld %ld %ld %lld %lld %zu", st.n, m["Rss"], m["Pss"], m["Private_Clean"] + m["Private_Dirty"],
         m["Pss_Anon"], m["Anonymous"], g_live_bytes.load(), g_live_blocks.load(), mi.uordblks);
    if (!sites_on()) return;
    const auto base = reinterpret_cast<uintptr_t>(&__executable_start);
    for (std::size_t i = 0; i < site_slots; ++i) {
        const Site& s = g_site_table[i];
        if (s.bytes == 0 && s.blocks == 0) continue;
        std::string line = "SITE " + std::to_string(s.bytes) + " " + std::to_string(s.blocks);
        char hex[24];
        for (auto pc : s.pc) {
            std::snprintf(hex, sizeof hex, " %lx", static_cast<unsigned long>(pc ? pc - base : 0));
            line += hex;
        }
        emit("%s", line.c_str());
    }
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

bool alive_not_zombie(int pid) {
    if (::kill(pid, 0) != 0) return false;
    auto s = sv::read_proc_stat(pid);
    return s && s->state != 'Z';
}

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

// ---- the driver ---------------------------------------------------------------

extern "C" char** environ;

int env_count() {
    int n = 0;
    for (char** e = environ; e && *e; ++e) ++n;
    return n;
}

std::size_t env_bytes() {
    std::size_t n = 0;
    for (char** e = environ; e && *e; ++e) n += std::strlen(*e) + 1;
    return n;
}

struct Child {
    std::map<std::string, std::vector<std::string>> lines;  // first word → the rest (last wins)
    std::vector<std::vector<std::string>> sites;             // every SITE line
    std::vector<int> pids;                                   // services it reported
    int status = -1;
    bool timed_out = false;
    int leftovers = 0;  // reported pids still alive after it exited (then killed)
};

std::vector<std::string> words(const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

// True if `pid` is still one of our `sleep 3600` services (not a reused pid).
bool is_our_sleep(int pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline");
    std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return cmd == sleep_path() + std::string("\0" "3600\0", 6) && alive_not_zombie(pid);
}

// Runs `self --run ARGS...`, collecting its lines; `on_line(child, word)` is
// called as each line arrives (the idle measurement acts on READY). Past
// `deadline` the child gets SIGTERM (it stops its services), then SIGKILL.
Child run_child(std::vector<std::string> args, std::chrono::seconds deadline,
                std::function<void(pid_t, const std::string&)> on_line = {}, bool sites = false) {
    Child out;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return out;
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(fds[1], 1);
        if (sites) ::setenv("REINS_BENCH_SITES", "1", 1);
        std::vector<const char*> argv{g_self.c_str(), "--run"};
        for (auto& a : args) argv.push_back(a.c_str());
        argv.push_back(nullptr);
        ::execv(argv[0], const_cast<char**>(argv.data()));
        ::_exit(127);
    }
    ::close(fds[1]);
    const auto end = Clock::now() + deadline;
    std::string buf;
    bool termed = false;
    auto hard_end = end + 30s;
    for (;;) {
        auto now = Clock::now();
        if (!termed && now >= end) {
            out.timed_out = true;
            termed = true;
            ::kill(pid, SIGTERM);
        }
        if (termed && now >= hard_end) {
            ::kill(pid, SIGKILL);
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        int rc = ::poll(&p, 1, 200);
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) continue;
        char chunk[65536];
        ssize_t n = ::read(fds[0], chunk, sizeof chunk);
        if (n <= 0) break;
        buf.append(chunk, static_cast<std::size_t>(n));
        for (auto nl = buf.find('\n'); nl != std::string::npos; nl = buf.find('\n')) {
            auto w = words(buf.substr(0, nl));
            buf.erase(0, nl + 1);
            if (w.empty()) continue;
            std::string key = w.front();
            w.erase(w.begin());
            if (key == "SITE") out.sites.push_back(w);
            if (key == "PIDS")
                for (auto& s : w) out.pids.push_back(std::atoi(s.c_str()));
            out.lines[key] = w;
            if (on_line) on_line(pid, key);
        }
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    out.status = status;
    for (int p : out.pids)
        if (is_our_sleep(p)) {
            ++out.leftovers;
            ::kill(p, SIGKILL);  // by pid, after checking it is our sleep
        }
    return out;
}

double num(const Child& c, const std::string& key, std::size_t i) {
    auto it = c.lines.find(key);
    if (it == c.lines.end() || i >= it->second.size()) return -1;
    return std::atof(it->second[i].c_str());
}

std::string us(double v) {
    if (v < 0) return "—";
    char b[32];
    if (v >= 10000) std::snprintf(b, sizeof b, "%.1f ms", v / 1000.0);
    else std::snprintf(b, sizeof b, "%.0f µs", v);
    return b;
}

std::string kib(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.0f KiB", v);
    return b;
}

std::string kib1(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f KiB", v);
    return b;
}

void problem(const Child& c, const char* what) {
    if (c.timed_out) std::printf("\n**%s: timed out**\n", what);
    if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0)
        std::printf("\n**%s: exit status %d** (see stderr)\n", what,
                    WIFEXITED(c.status) ? WEXITSTATUS(c.status) : 128 + WTERMSIG(c.status));
    if (c.leftovers > 0) std::printf("\n**%s: %d service processes left behind (killed by pid)**\n", what, c.leftovers);
}

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

// Drops template arguments and parameter lists from a demangled name.
std::string short_name(const std::string& f) {
    std::string out;
    int depth = 0;
    for (char ch : f) {
        if (ch == '<' || ch == '(') ++depth;
        else if ((ch == '>' || ch == ')') && depth > 0) --depth;
        else if (depth == 0) out += ch;
    }
    return out;
}

// Function names for offsets into this executable (addr2line), or the offsets.
std::vector<std::string> symbolize(const std::vector<unsigned long>& offsets) {
    std::vector<std::string> out;
    std::string cmd = "addr2line -f -C -e '" + g_self + "'";
    char hex[32];
    for (auto o : offsets) {
        std::snprintf(hex, sizeof hex, " 0x%lx", o ? o - 1 : 0);  // the call, not the return address
        cmd += hex;
    }
    cmd += " 2>/dev/null";
    if (FILE* f = ::popen(cmd.c_str(), "r")) {
        char line[8192];
        bool name = true;
        while (std::fgets(line, sizeof line, f)) {
            std::string l(line);
            if (!l.empty() && l.back() == '\n') l.pop_back();
            if (name) out.push_back(short_name(l));
            name = !name;
        }
        ::pclose(f);
    }
    for (std::size_t i = out.size(); i < offsets.size(); ++i) {
        std::snprintf(hex, sizeof hex, "0x%lx", offsets[i]);
        out.push_back(hex);
    }
    for (std::size_t i = 0; i < offsets.size(); ++i)
        if (offsets[i] == 0) out[i] = "(outside this executable, or during backtrace)";
    return out;
}

// Per-service heap by allocation site: (sites at `big` − at `small`) / (big − small).
void print_sites(const Child& small, const Child& big, int n_small, int n_big) {
    // SITE bytes blocks pc0 pc1 pc2 pc3 → one row per call path.
    std::map<std::vector<unsigned long>, std::pair<double, double>> per;
    auto add = [&](const Child& c, double sign) {
        for (const auto& w : c.sites) {
            if (w.size() < 3) continue;
            std::vector<unsigned long> path;
            for (std::size_t i = 2; i < w.size(); ++i) path.push_back(std::strtoul(w[i].c_str(), nullptr, 16));
            auto& e = per[path];
            e.first += sign * std::atof(w[0].c_str()) / (n_big - n_small);
            e.second += sign * std::atof(w[1].c_str()) / (n_big - n_small);
        }
    };
    add(big, 1);
    add(small, -1);
    // Name every frame once; a row is named after its first frame outside
    // namespace std (the std frame under it says how: a vector copy, a string).
    std::vector<unsigned long> offs;
    for (auto& [path, v] : per)
        for (auto o : path)
            if (o) offs.push_back(o);
    std::sort(offs.begin(), offs.end());
    offs.erase(std::unique(offs.begin(), offs.end()), offs.end());
    auto names = symbolize(offs);
    std::map<unsigned long, std::string> name_of;
    for (std::size_t i = 0; i < offs.size(); ++i) name_of[offs[i]] = names[i];
    auto is_std = [](const std::string& n) { return n.rfind("std::", 0) == 0 || n.rfind("void std::", 0) == 0; };
    std::map<std::string, std::pair<double, double>> by_name;
    double total = 0, blocks = 0;
    for (auto& [path, v] : per) {
        std::string label = "(outside this executable)";
        std::string via;
        for (auto o : path) {
            if (!o) break;
            const std::string& n = name_of[o];
            if (!is_std(n)) {
                label = n;
                break;
            }
            if (via.empty()) via = n;
        }
        if (!via.empty()) label += " (via " + via + ")";
        by_name[label].first += v.first;
        by_name[label].second += v.second;
        total += v.first;
        blocks += v.second;
    }
    std::vector<std::pair<std::string, std::pair<double, double>>> rows(by_name.begin(), by_name.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
    std::printf("\n### where an idle service's heap goes\n\n");
    std::printf("| bytes per service | blocks | allocated in |\n|---:|---:|---|\n");
    double shown = 0, shown_blocks = 0;
    for (std::size_t i = 0; i < rows.size() && i < 18; ++i) {
        if (rows[i].second.first < 32) break;
        std::printf("| %.0f | %.1f | `%s` |\n", rows[i].second.first, rows[i].second.second, rows[i].first.c_str());
        shown += rows[i].second.first;
        shown_blocks += rows[i].second.second;
    }
    std::printf("| %.0f | %.1f | the other sites |\n", total - shown, blocks - shown_blocks);
    std::printf("| **%.0f** | **%.1f** | **all (requested sizes, without malloc's overhead)** |\n", total, blocks);
    std::printf("\nMethod: the memory run again with %d and %d services, every C++ allocation tagged with its "
                "call path (backtrace(), frames inside this executable, named by addr2line) and named after "
                "the first frame outside namespace std. A coroutine's frame is charged to its ramp function "
                "(the name without `[clone .actor]`), what it allocates while it runs to `[clone .actor]`. "
                "Live bytes per site, difference divided by %d. The environment the services inherit here "
                "has %d variables, %zu bytes.\n",
                n_small, n_big, n_big - n_small, env_count(), env_bytes());
}

std::string load_average() {
    std::ifstream f("/proc/loadavg");
    std::string a, b, c;
    f >> a >> b >> c;
    return a + " " + b + " " + c;
}

int drive(bool latency, bool memory, bool idle_cpu) {
    utsname u{};
    ::uname(&u);
    std::printf("# reins-bench-engine\n\n");
    std::printf("Machine: %ld cores, Linux %s, libuv %s; load average at start %s.\n", ::sysconf(_SC_NPROCESSORS_ONLN),
                u.release, uv_version_string(), load_average().c_str());
    std::fflush(stdout);

    if (latency) {
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
    std::fflush(stdout);

    if (memory) {
        // 4. memory
        std::vector<int> sizes{1, 100, 1000};
        std::vector<Child> mem;
        for (int n : sizes) mem.push_back(run_child({"mem", std::to_string(n)}, 120s));
        std::printf("\n## 4. memory of the supervising process with N idle services\n\n");
        std::printf("| services | RSS | PSS | private | PSS anon | C++ heap live (blocks) | malloc in use | "
                    "start all | stop all | left |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (std::size_t i = 0; i < sizes.size(); ++i) {
            const Child& c = mem[i];
            std::printf("| %d | %s | %s | %s | %s | %s (%.0f) | %s | %s | %s | %d |\n", sizes[i],
                        kib(num(c, "MEM", 1)).c_str(), kib(num(c, "MEM", 2)).c_str(), kib(num(c, "MEM", 3)).c_str(),
                        kib(num(c, "MEM", 4)).c_str(), kib(num(c, "MEM", 6) / 1024).c_str(), num(c, "MEM", 7),
                        kib(num(c, "MEM", 8) / 1024).c_str(), us(num(c, "TIMES", 0) * 1000).c_str(),
                        us(num(c, "TIMES", 1) * 1000).c_str(), static_cast<int>(num(c, "TIMES", 2)) + c.leftovers);
    }
    auto per = [&](std::size_t a, std::size_t b, std::size_t field, double scale) {
        return (num(mem[b], "MEM", field) - num(mem[a], "MEM", field)) * scale / double(sizes[b] - sizes[a]);
    };
    for (auto [a, b] : {std::pair<std::size_t, std::size_t>{0, 1}, {0, 2}}) {
        std::printf("| per extra service (%d → %d) | %s | %s | %s | %s | %s (%.1f) | %s | | | |\n", sizes[a], sizes[b],
                    kib1(per(a, b, 1, 1)).c_str(), kib1(per(a, b, 2, 1)).c_str(), kib1(per(a, b, 3, 1)).c_str(),
                    kib1(per(a, b, 4, 1)).c_str(), kib1(per(a, b, 6, 1.0 / 1024)).c_str(), per(a, b, 7, 1),
                    kib1(per(a, b, 8, 1.0 / 1024)).c_str());
    }
    std::printf("\nTargets: ≤ 512 KiB PSS with 1 service, ≤ 8 KiB PSS per extra service. Method: each N in a "
                "fresh process; N services `%s 3600` (no probes, restart no) started with "
                "Supervisor::start(), 200 ms to settle, then /proc/self/smaps_rollup (private = "
                "Private_Clean + Private_Dirty), live C++ allocations counted by a replaced operator new, and "
                "mallinfo2().uordblks. PSS divides shared pages among their users, and the `sleep`s map libc "
                "too, so PSS per service slightly understates; private and heap do not. Every service pid is "
                "checked gone after the supervisor's stop (left = still alive).\n",
                sleep_path().c_str());
    for (std::size_t i = 0; i < sizes.size(); ++i) problem(mem[i], ("memory, " + std::to_string(sizes[i])).c_str());
    auto sites1 = run_child({"sites", "1"}, 60s, {}, true);
    auto sites101 = run_child({"sites", "101"}, 60s, {}, true);
    print_sites(sites1, sites101, 1, 101);
    problem(sites1, "sites, 1");
    problem(sites101, "sites, 101");
    }
    std::fflush(stdout);

    if (idle_cpu) {
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
    std::printf("\nLoad average at the end: %s.\n", load_average().c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    timespec start{};
    ::clock_gettime(CLOCK_MONOTONIC, &start);  // first: the crash-loop child's start stamp
    if (argc == 3 && std::strcmp(argv[1], "--child-exit-now") == 0) return child_exit_now(start, argv[2]);

    std::signal(SIGPIPE, SIG_IGN);
    // fds 0-2 must be open before libuv spawns anything: with one closed, a
    // service pipe can take its number and uv_spawn asserts (core.c
    // uv__close: `fd > STDERR_FILENO`), in the child and then in us.
    int null_fd = ::open("/dev/null", O_RDWR);
    while (null_fd >= 0 && null_fd <= 2) null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd > 2) ::close(null_fd);
    char self[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        std::fprintf(stderr, "reins-bench-engine: cannot read /proc/self/exe\n");
        return 2;
    }
    g_self.assign(self, static_cast<std::size_t>(n));
    // 1000 services hold 2000 pipe ends: lift the soft fd limit to the hard one.
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        (void)::setrlimit(RLIMIT_NOFILE, &lim);
    }

    if (argc >= 3 && std::strcmp(argv[1], "--run") == 0) {
        uv_disable_stdio_inheritance();  // not in the driver: it would close 0 and 2 of its --run children
        std::string mode = argv[2];
        int arg = argc >= 4 ? std::atoi(argv[3]) : 0;
        if (mode == "baseline") return run_baseline();
        if (mode == "crash") return run_crash(arg != 0);
        if (mode == "mem" || mode == "sites") return run_idle(arg, false);
        if (mode == "idle") return run_idle(arg, true);
        std::fprintf(stderr, "reins-bench-engine: unknown mode %s\n", mode.c_str());
        return 2;
    }
    // Optional section names: all by default.
    bool latency = argc == 1, memory = argc == 1, idle_cpu = argc == 1;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "latency") latency = true;
        else if (a == "memory") memory = true;
        else if (a == "idle") idle_cpu = true;
        else {
            std::fprintf(stderr, "usage: reins-bench-engine [latency] [memory] [idle]\n");
            return 2;
        }
    }
    return drive(latency, memory, idle_cpu);
}
