// The real systemd-notify against a DatagramSocket: READY=1 arrives and
// the descriptor of its barrier is closed at once, by path and abstract name.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "datagram_harness.hpp"
#include "harness.hpp"
#include "reins/async/datagram.hpp"
#include "temp_dir.hpp"

extern char** environ;

using namespace reins;
using namespace reins::test;
using Clock = std::chrono::steady_clock;

namespace {

std::string find_in_path(const char* prog) {
    const char* p = std::getenv("PATH");
    std::string path = p ? p : "/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find(':', start);
        if (end == std::string::npos) end = path.size();
        std::string cand = path.substr(start, end - start) + "/" + prog;
        if (end > start && ::access(cand.c_str(), X_OK) == 0) return cand;
        start = end + 1;
    }
    return {};
}

// Runs `systemd-notify --ready` against `sock` and checks that reins'
// handling lets it finish: READY=1 arrives, and the BARRIER=1 fd it waits on
// is closed at once, so it exits 0 well before its own 5 s barrier timeout.
Task<void> systemd_notify_ready(std::string prog, DatagramSocket* sock) {
    std::vector<std::string> env_strings{"NOTIFY_SOCKET=" + sock->path()};
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0) env_strings.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string arg0 = prog, arg1 = "--ready";
    char* argv[] = {arg0.data(), arg1.data(), nullptr};

    auto t0 = Clock::now();
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, prog.c_str(), nullptr, nullptr, argv, envp.data());
    REQUIRE(rc == 0);

    std::string log;  // shown only if a check fails
    bool ready = false;
    int status = -1;
    bool exited = false;
    while (Clock::now() - t0 < 8s) {
        auto r = co_await recv_within(sock, 100ms);
        if (r) {
            log += "received \"" + r->data + "\" from pid " + std::to_string(r->pid) + "; ";
            if (contains(r->data, "READY=1")) ready = true;
        }
        if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
        if (exited && ready) break;
    }
    if (!exited) {  // never leave it behind, even when the test fails
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
    }
    INFO(prog << " --ready to " << sock->path() << ": " << log);
    CHECK(ready);
    CHECK(exited);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(Clock::now() - t0 < 4s);  // not released by its own barrier timeout
}

}  // namespace

TEST_SUITE("datagram") {
    TEST_CASE("systemd-notify --ready works with NOTIFY_SOCKET, path and abstract") {
        std::string prog = find_in_path("systemd-notify");
        if (prog.empty()) {
            MESSAGE("systemd-notify not installed: skipped");
            return;
        }
        run_test(
            [](std::stop_token) -> Task<void> {
                std::string prog = find_in_path("systemd-notify");
                TempDir dir("dgram");
                auto by_path = DatagramSocket::bind(dir / "notify.sock");
                REQUIRE(by_path);
                co_await systemd_notify_ready(prog, &*by_path);
                auto by_name = DatagramSocket::bind(abstract_name());
                REQUIRE(by_name);
                co_await systemd_notify_ready(prog, &*by_name);
            },
            30s);
    }
}
