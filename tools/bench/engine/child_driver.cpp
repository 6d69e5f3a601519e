// reins-bench-engine: runs one measurement in a child process and reads its
// result lines (child_driver.hpp).
#include "child_driver.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "measure.hpp"

namespace engine_bench {

using namespace std::chrono_literals;

std::vector<std::string> words(const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

namespace {

// True if `pid` is still one of our `sleep 3600` services (not a reused pid).
bool is_our_sleep(int pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline");
    std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return cmd == sleep_path() + std::string("\0" "3600\0", 6) && alive_not_zombie(pid);
}

}  // namespace

Child run_child(std::vector<std::string> args, std::chrono::seconds deadline,
                std::function<void(pid_t, const std::string&)> on_line, bool sites) {
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

void problem(const Child& c, const char* what) {
    if (c.timed_out) std::printf("\n**%s: timed out**\n", what);
    if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0)
        std::printf("\n**%s: exit status %d** (see stderr)\n", what,
                    WIFEXITED(c.status) ? WEXITSTATUS(c.status) : 128 + WTERMSIG(c.status));
    if (c.leftovers > 0) std::printf("\n**%s: %d service processes left behind (killed by pid)**\n", what, c.leftovers);
}

}  // namespace engine_bench
