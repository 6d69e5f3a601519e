// reins-bench-engine, figure 4: memory of the supervising process with 1, 100
// and 1000 idle services (each in a fresh --run mem child), then where an
// idle service's heap goes: the same with 1 and 101 services, every
// allocation tagged with its call site (--run sites, counting_allocator.hpp),
// the sites named by addr2line.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "child_driver.hpp"
#include "figures.hpp"
#include "measure.hpp"
#include "table_cells.hpp"

extern "C" char** environ;

namespace engine_bench {

using namespace std::chrono_literals;

namespace {

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

}  // namespace

void print_memory_figure() {
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

}  // namespace engine_bench
