// reins-bench-engine: what the supervisor engine (reins::supervisor) costs,
// as Markdown tables (docs/benchmarks.md; method under each table).
//
//   1. child exit → event observed      latency.cpp
//   2. child exit → replacement exec'd  latency.cpp
//   3. supervisor CPU per restart       latency.cpp
//   4. memory with 1 / 100 / 1000 idle  memory.cpp (measured by idle_services.cpp)
//   5. CPU while idle                   idle_cpu.cpp (idem)
//
// Every measurement runs in a fresh child process of this binary (a --run
// mode, child_driver.hpp), so nothing accumulates between them; the children
// of the crash loops are this binary again (--child-exit-now). Build it
// optimized: the executable is always -O2, and the library it links should be
// too (meson setup -Dbuildtype=release).
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <uv.h>

#include "figures.hpp"
#include "measure.hpp"

namespace engine_bench {
namespace {

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

    if (latency) print_latency_figures();
    std::fflush(stdout);
    if (memory) print_memory_figure();
    std::fflush(stdout);
    if (idle_cpu) print_idle_cpu_figure();
    std::printf("\nLoad average at the end: %s.\n", load_average().c_str());
    return 0;
}

}  // namespace
}  // namespace engine_bench

int main(int argc, char** argv) {
    using namespace engine_bench;
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
