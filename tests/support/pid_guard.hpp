// PidGuard: kills, by pid, the processes a test learned about (grandchildren,
// orphans), whatever happens to the test, and reaps those that became our
// children. Never give it a pid a Process owns (a Process kills and reaps its own).
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "reins/supervisor/process_tree.hpp"

namespace reins::test {

struct PidGuard {
    std::vector<pid_t> pids;
    PidGuard() = default;
    PidGuard(const PidGuard&) = delete;
    PidGuard& operator=(const PidGuard&) = delete;
    ~PidGuard() {
        for (pid_t pid : pids) {
            if (pid <= 1) continue;
            ::kill(pid, SIGKILL);
            auto st = supervisor::read_proc_stat(pid);
            if (st && st->ppid == ::getpid()) ::waitpid(pid, nullptr, 0);
        }
    }
};

}  // namespace reins::test
