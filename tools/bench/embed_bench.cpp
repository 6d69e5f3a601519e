// What embedding reins costs a host: added memory and threads, wakeups while
// idle, and the latency of calls from the host's thread (docs/benchmarks.md).
//
//   reins-bench-embed [FIXTURE [idle-seconds]]
//
// FIXTURE is tools/fixture's reins-fixture (a server that listens at once),
// by default the one of the same build.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "reins/control/supervisor_thread.hpp"

using namespace reins;
using namespace reins::control;
using Clock = std::chrono::steady_clock;

namespace {

// A field of /proc/self/status or /proc/self/smaps_rollup, in kB.
long kb(const char* file, const std::string& key) {
    std::ifstream f(file);
    std::string line;
    while (std::getline(f, line))
        if (line.rfind(key + ":", 0) == 0) return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
    return -1;
}

long threads() { return kb("/proc/self/status", "Threads"); }

// Context switches of every thread but the main one: reins' thread's wakeups.
long other_threads_switches() {
    long total = 0;
    DIR* d = ::opendir("/proc/self/task");
    while (dirent* e = ::readdir(d)) {
        int tid = std::atoi(e->d_name);
        if (tid <= 0 || tid == ::getpid()) continue;
        std::string p = "/proc/self/task/" + std::to_string(tid) + "/status";
        total += kb(p.c_str(), "voluntary_ctxt_switches") + kb(p.c_str(), "nonvoluntary_ctxt_switches");
    }
    ::closedir(d);
    return total;
}

// RSS (kB) per mapping name ("[heap]", "/usr/lib/.../libuv.so.1", "[anon]").
std::map<std::string, long> rss_by_mapping() {
    std::map<std::string, long> out;
    std::ifstream f("/proc/self/smaps");
    std::string line, name;
    while (std::getline(f, line)) {
        if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') < 16) {
            std::istringstream ss(line);
            std::string range, perms, off, dev, inode;
            ss >> range >> perms >> off >> dev >> inode;
            std::getline(ss, name);
            name.erase(0, name.find_first_not_of(' '));
            if (name.empty()) name = "[anon]";
        } else if (line.rfind("Rss:", 0) == 0) {
            out[name] += std::strtol(line.c_str() + 4, nullptr, 10);
        }
    }
    return out;
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void report(const char* what, std::vector<double> v, const char* unit, double scale) {
    std::sort(v.begin(), v.end());
    std::printf("%-44s runs %5zu  median %8.1f %s  p99 %8.1f %s  max %8.1f %s\n", what, v.size(),
                v[v.size() / 2] * scale, unit, v[v.size() * 99 / 100] * scale, unit, v.back() * scale, unit);
}

}  // namespace

int main(int argc, char** argv) {
    // The fixture beside this build's tools/bench (tools/dev bench passes no arguments).
    std::string fixture = argc > 1 ? argv[1] : "";
    if (fixture.empty()) {
        char exe[4096];
        ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
        std::string self = n > 0 ? std::string(exe, static_cast<std::size_t>(n)) : "";
        fixture = self.substr(0, self.rfind("/bench/")) + "/fixture/reins-fixture";
    }
    if (::access(fixture.c_str(), X_OK) != 0) {
        std::fprintf(stderr, "usage: %s [FIXTURE [idle-seconds]] (no fixture at %s)\n", argv[0], fixture.c_str());
        return 2;
    }
    const int idle_s = argc > 2 ? std::atoi(argv[2]) : 10;

    const long rss0 = kb("/proc/self/status", "VmRSS"), pss0 = kb("/proc/self/smaps_rollup", "Pss");
    const long threads0 = threads();
    const auto maps0 = rss_by_mapping();

    SupervisorThread::Options o;
    o.queue_events = true;
    Outcome failed;
    auto sup = SupervisorThread::open(o, &failed);
    if (!sup) {
        std::fprintf(stderr, "open: %s\n", failed.message.c_str());
        return 1;
    }
    supervisor::ServiceSpec s;
    s.name = "api";
    s.command.value = std::vector<std::string>{fixture, "--port", "${PORT}"};
    s.port = supervisor::PortSpec::any();
    s.ready.kind = supervisor::ProbeKind::tcp;
    if (!sup->add(s)) return 1;
    if (auto up = sup->start({"api"}); !up) {
        std::fprintf(stderr, "start: %s\n", up.message.c_str());
        return 1;
    }
    (void)sup->take_events();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const long rss1 = kb("/proc/self/status", "VmRSS"), pss1 = kb("/proc/self/smaps_rollup", "Pss");
    std::printf("host before reins: RSS %ld kB, PSS %ld kB, %ld thread(s)\n", rss0, pss0, threads0);
    std::printf("with reins + 1 idle service: RSS %ld kB (+%ld), PSS %ld kB (+%ld), %ld threads (+%ld)\n", rss1,
                rss1 - rss0, pss1, pss1 - pss0, threads(), threads() - threads0);

    // Where the added memory is: the mappings that grew most.
    std::vector<std::pair<long, std::string>> grown;
    for (const auto& [name, kb1] : rss_by_mapping()) {
        auto it = maps0.find(name);
        long d = kb1 - (it == maps0.end() ? 0 : it->second);
        if (d > 0) grown.emplace_back(d, name);
    }
    std::sort(grown.rbegin(), grown.rend());
    for (std::size_t i = 0; i < grown.size() && i < 10; ++i)
        std::printf("  +%5ld kB  %s\n", grown[i].first, grown[i].second.c_str());

    const long sw0 = other_threads_switches();
    std::this_thread::sleep_for(std::chrono::seconds(idle_s));
    const long sw1 = other_threads_switches();
    std::printf("idle %d s: reins' thread woke %ld times (%.2f/s)\n", idle_s, sw1 - sw0,
                double(sw1 - sw0) / idle_s);

    std::vector<double> status_ms;
    for (int i = 0; i < 5000; ++i) {
        auto t0 = Clock::now();
        auto st = sup->status();
        status_ms.push_back(ms(Clock::now() - t0));
        if (!st) return 1;
    }
    report("status() from the host's thread", status_ms, "us", 1000.0);

    std::vector<double> start_ms, stop_ms;
    for (int i = 0; i < 30; ++i) {
        auto t0 = Clock::now();
        if (!sup->stop({"api"})) return 1;
        stop_ms.push_back(ms(Clock::now() - t0));
        t0 = Clock::now();
        if (!sup->start({"api"})) return 1;
        start_ms.push_back(ms(Clock::now() - t0));
    }
    report("start() → running (tcp ready), listens at once", start_ms, "ms", 1.0);
    report("stop() (exits on SIGTERM)", stop_ms, "ms", 1.0);
    sup.reset();
    return 0;
}
