// Loading a reins.toml of N services (default 1000): read, parse (toml++),
// validate and build every ServiceSpec — what `reins check`/`run` pay
// before anything starts. Target (docs/benchmarks.md) for 1000 services: < 50 ms.
//
//   reins-bench-config [N] [RUNS]     (KEEP=1: keep the generated file, print its path)
#include <stdlib.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "reins/config/config.hpp"
#include "reins/config/document.hpp"
#include "reins/config/emit.hpp"

namespace {

/// A realistic service: most keys set, a dependency on the one before.
std::string config_text(int n) {
    std::string t = "version = 1\n\n[defaults]\nrestart.policy = \"on-failure\"\nenv = { APP_ENV = \"bench\" }\n";
    for (int i = 0; i < n; ++i) {
        std::string name = "svc" + std::to_string(i);
        t += "\n[service." + name + "]\n";
        t += "command = [\"./server\", \"--port\", \"${PORT}\", \"--id\", \"" + std::to_string(i) + "\"]\n";
        t += "port = \"" + std::to_string(10000 + i * 10) + "-" + std::to_string(10000 + i * 10 + 9) + "\"\n";
        t += "env = { RUST_LOG = \"info\", INDEX = \"" + std::to_string(i) + "\" }\n";
        if (i > 0) t += "depends_on = [\"svc" + std::to_string(i - 1) + "\"]\n";
        t += "ready = { http = \"/ready\", timeout = \"30s\" }\n";
        t += "health = { http = \"/health\", interval = \"5s\", failures = 3 }\n";
        t += "restart = { max = 5, window = \"5m\", backoff = { initial = \"100ms\", max = \"30s\" } }\n";
        t += "stop = { signal = \"TERM\", timeout = \"10s\" }\n";
        t += "logs = { max_size = \"10MiB\", keep = 5 }\n";
    }
    return t;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

/// CPU time of this process in ms: on a loaded machine, wall time also
/// counts the time other processes had the CPU.
double cpu_ms() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

void report(const char* what, std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::printf("%-34s min %7.2f ms   median %7.2f ms   max %7.2f ms\n", what, v.front(), v[v.size() / 2], v.back());
}

}  // namespace

int main(int argc, char** argv) {
    int n = argc > 1 ? std::atoi(argv[1]) : 1000;
    int runs = argc > 2 ? std::atoi(argv[2]) : 21;
    std::string dir = (std::filesystem::temp_directory_path() / "reins-bench-XXXXXX").string();
    if (::mkdtemp(dir.data()) == nullptr) return 1;
    std::string path = dir + "/reins.toml";
    std::string text = config_text(n);
    std::ofstream(path) << text;
    std::printf("%d services, %zu KiB of TOML, %d runs\n", n, text.size() / 1024, runs);

    // The first load of a fresh process, as `reins check` or `reins run`
    // pays it: the heap's pages are touched for the first time.
    {
        auto t0 = std::chrono::steady_clock::now();
        double c0 = cpu_ms();
        auto r = reins::config::load_file(path);
        double wall = ms_since(t0), cpu = cpu_ms() - c0;
        if (!r.ok()) return 1;
        std::printf("%-34s %7.2f ms (CPU %.2f ms)\n", "first load_file of the process", wall, cpu);
    }
    std::vector<double> parse, load, load_cpu, emit;
    for (int i = 0; i < runs; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        {
            auto doc = reins::config::parse_toml(text, path);
            if (doc.error) return 1;
        }
        parse.push_back(ms_since(t0));
        t0 = std::chrono::steady_clock::now();
        double c0 = cpu_ms();
        auto r = reins::config::load_file(path);
        load.push_back(ms_since(t0));
        load_cpu.push_back(cpu_ms() - c0);
        if (!r.ok() || r.config.services.size() != static_cast<std::size_t>(n)) {
            std::fprintf(stderr, "bench: the generated config did not load\n%s\n", r.error().context.c_str());
            return 1;
        }
        t0 = std::chrono::steady_clock::now();
        std::string out = reins::config::to_toml(reins::config::to_document(r.config, reins::config::EmitMode::effective));
        emit.push_back(ms_since(t0));
    }
    report("parse only (toml++, Node tree)", parse);
    report("load_file (read+parse+validate)", load);
    report("load_file, CPU time", load_cpu);
    report("effective TOML (reins check)", emit);
    if (std::getenv("KEEP") == nullptr) std::filesystem::remove_all(dir);
    else std::printf("%s\n", path.c_str());
    return 0;
}
