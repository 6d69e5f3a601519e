// Helpers of the state directory tests: reading files back, and a direct
// child killed and reaped whatever happens to the test.
#pragma once

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "reins/supervisor/process_tree.hpp"

namespace reins::test {

inline std::string slurp(const std::string& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

inline unsigned mode_of(const std::string& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

inline bool exists(const std::string& p) { return ::access(p.c_str(), F_OK) == 0; }

inline uint64_t own_start_time() {
    auto t = supervisor::process_start_time(::getpid());
    REQUIRE(t.has_value());
    return *t;
}

// A direct child: SIGKILLed (while it is still the same process) and
// reaped when the test ends, whatever happened.
struct Child {
    pid_t pid = -1;
    int out = -1;  // its stdout, when captured
    Child() = default;
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() {
        if (out >= 0) ::close(out);
        if (pid > 0) {
            ::kill(pid, SIGKILL);  // still our unreaped child: the pid cannot have been reused
            ::waitpid(pid, nullptr, 0);
        }
    }
    int wait() {
        int st = 0;
        REQUIRE(::waitpid(pid, &st, 0) == pid);
        pid = -1;
        return st;
    }
};

}  // namespace reins::test
