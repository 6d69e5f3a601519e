#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "reins/async/timer.hpp"
#include "reins/supervisor/keeper_process.hpp"
#include "reins/supervisor/keeper_sweep.hpp"
#include "reins/supervisor/process_tree.hpp"

using namespace reins;
using namespace reins::test;
using namespace reins::supervisor;

namespace {

// A tag no real supervisor has (pid 1 never runs these tests).
const std::string tag = ".1." + std::to_string(::getpid()) + ".";

// Kills and reaps the test's children whatever happens to the test.
struct Children {
    std::vector<pid_t> pids;
    Children() = default;
    Children(const Children&) = delete;
    Children& operator=(const Children&) = delete;
    ~Children() {
        for (pid_t pid : pids) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
};

// A fake service process: `sleep 60` in a session of its own, its
// environment holding only `env` (e.g. "REINS_INSTANCE=web<tag>1").
pid_t fake_service(Children& children, std::vector<std::string> env) {
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    char sleep_path[] = "/bin/sleep";
    char sixty[] = "60";
    char* argv[] = {sleep_path, sixty, nullptr};
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::setsid();
        ::execve(sleep_path, argv, envp.data());
        ::_exit(127);
    }
    children.pids.push_back(pid);
    return pid;
}

// Our child `pid` ended (SIGKILL) within about 2 s: reaps it.
bool killed_within_2s(pid_t pid) {
    for (int i = 0; i < 200; ++i) {
        int status = 0;
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        ::usleep(10000);
    }
    return false;
}

// The exec is over once /proc/PID/exe is sleep and sleep sleeps (state S).
// The exe link alone is not enough: the kernel sets it before it lays out
// the new program's environment, and /proc/PID/environ reads empty until then.
bool wait_exec(pid_t pid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/exe", static_cast<int>(pid));
    const std::string stat_path = "/proc/" + std::to_string(pid) + "/stat";
    for (int i = 0; i < 1000; ++i) {
        char target[256] = {};
        if (::readlink(path, target, sizeof target - 1) > 0 && std::string(target).find("sleep") != std::string::npos) {
            std::ifstream in(stat_path);
            std::string stat((std::istreambuf_iterator<char>(in)), {});
            auto close = stat.rfind(')');
            if (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'S') return true;
        }
        ::usleep(2000);
    }
    return false;
}

// Private_Dirty of `pid` (kB, /proc/PID/smaps_rollup).
long private_dirty_kb(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
    std::string key;
    long value = -1;
    while (in >> key) {
        if (key == "Private_Dirty:") {
            in >> value;
            return value;
        }
    }
    return -1;
}

// Starts a keeper guarding `bare`'s group, then abandons it as if this
// process died; *keeper_pid is the keeper's pid.
Task<void> guard_and_abandon(pid_t bare, pid_t* keeper_pid) {
    auto k = KeeperProcess::start(tag);
    REQUIRE(k.has_value());
    *keeper_pid = k->pid();
    CHECK(*keeper_pid > 0);
    k->guard_group(bare);
    k->guard_group(4194000);  // guarded, then released: never signalled
    k->release_group(4194000);
    // As if this process died: the socket closes without a word.
    k->abandon();
    CHECK(k->pid() == 0);
    co_return;
}

// Starts a keeper guarding `tagged`'s group, then finishes cleanly;
// *keeper_pid is the keeper's pid.
Task<void> guard_and_finish(pid_t tagged, pid_t* keeper_pid) {
    auto k = KeeperProcess::start(tag);
    REQUIRE(k.has_value());
    *keeper_pid = k->pid();
    k->guard_group(tagged);
    k->finish();
    co_return;
}

// Starts a keeper guarding `bare`'s group, SIGKILLs it and waits for its
// replacement, then abandons that; what the keeper said goes to *said.
Task<void> kill_the_keeper(pid_t bare, std::vector<std::string>* said) {
    auto k = KeeperProcess::start(tag, [said](const std::string& line) { said->push_back(line); });
    REQUIRE(k.has_value());
    k->guard_group(bare);
    const pid_t first = k->pid();
    ::kill(first, SIGKILL);
    for (int i = 0; i < 200 && k->pid() == first; ++i) co_await sleep(10ms);
    CHECK(k->pid() != first);
    CHECK(k->pid() > 0);
    errno = 0;
    CHECK(::waitpid(first, nullptr, WNOHANG) < 0);  // reaped, not a zombie
    CHECK(errno == ECHILD);
    k->abandon();  // the replacement knows the group
}

// Starts a keeper, rewrites the `size` bytes at `big`, and checks that the
// keeper did not keep a copy of them.
Task<void> rewrite_under_keeper(char* big, std::size_t size) {
    auto k = KeeperProcess::start(tag);
    REQUIRE(k.has_value());
    co_await sleep(100ms);  // it drops its copy first thing
    std::memset(big, 2, size);
    long kb = private_dirty_kb(k->pid());
    INFO("keeper Private_Dirty: " << kb << " kB");
    CHECK(kb >= 0);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    CHECK(kb < 4096);  // (a sanitized keeper keeps its copy: see keeper_sweep.cpp)
#endif
    k->finish();
}

// Starts a keeper (*started: whether it did) guarding `bare`'s group,
// then abandons it 50 ms later.
Task<void> guard_a_while_and_abandon(pid_t bare, bool* started) {
    auto k = KeeperProcess::start(tag);
    *started = k.has_value();
    if (!*started) co_return;
    k->guard_group(bare);
    co_await sleep(50ms);
    k->abandon();
}

}  // namespace

TEST_SUITE("keeper_process") {
    TEST_CASE("carries_tag reads REINS_INSTANCE, and only a tag after the service's name") {
        Children children;
        pid_t tagged = fake_service(children, {"A=1", "REINS_INSTANCE=web" + tag + "7", "Z=2"});
        pid_t at_start = fake_service(children, {"REINS_INSTANCE=" + tag + "7"});
        pid_t other_key = fake_service(children, {"NOT_REINS_INSTANCE=web" + tag + "7"});
        REQUIRE(wait_exec(tagged));
        REQUIRE(wait_exec(at_start));
        REQUIRE(wait_exec(other_key));
        CHECK(keeper::carries_tag(tagged, tag.data(), tag.size()));
        CHECK_FALSE(keeper::carries_tag(at_start, tag.data(), tag.size()));
        CHECK_FALSE(keeper::carries_tag(other_key, tag.data(), tag.size()));
        CHECK_FALSE(keeper::carries_tag(::getpid(), tag.data(), tag.size()));
    }

    TEST_CASE("when the supervisor's end closes, the keeper kills the tagged processes and the guarded groups") {
        Children children;
        pid_t tagged = fake_service(children, {"REINS_INSTANCE=web" + tag + "1"});
        pid_t bare = fake_service(children, {});  // cleared its environment; found by its group only
        pid_t stranger = fake_service(children, {"REINS_INSTANCE=web.1.2.3"});
        REQUIRE(wait_exec(tagged));
        REQUIRE(wait_exec(bare));
        REQUIRE(wait_exec(stranger));
        pid_t keeper_pid = 0;
        run_test([&](std::stop_token) { return guard_and_abandon(bare, &keeper_pid); });
        CHECK(killed_within_2s(tagged));
        CHECK(killed_within_2s(bare));
        CHECK(process_alive(*process_ref(stranger)));  // another supervisor's
        // abandon() reaped the keeper: no zombie is left behind.
        errno = 0;
        CHECK(::waitpid(keeper_pid, nullptr, WNOHANG) < 0);
        CHECK(errno == ECHILD);
    }

    TEST_CASE("a clean finish disarms the keeper: it exits and kills nothing") {
        Children children;
        pid_t tagged = fake_service(children, {"REINS_INSTANCE=web" + tag + "2"});
        REQUIRE(wait_exec(tagged));
        pid_t keeper_pid = 0;
        run_test([&](std::stop_token) { return guard_and_finish(tagged, &keeper_pid); });
        CHECK(process_alive(*process_ref(tagged)));
        CHECK(::waitpid(keeper_pid, nullptr, WNOHANG) < 0);
        CHECK_FALSE(process_alive(ProcessRef{keeper_pid, 0}));
    }

    TEST_CASE("the keeper closes every other fd, leaves the session and ignores a terminal's signals") {
        run_test([](std::stop_token) -> Task<void> {
            auto k = KeeperProcess::start(tag);
            REQUIRE(k.has_value());
            const pid_t pid = k->pid();
            std::string fds;
            for (int i = 0; i < 200; ++i) {  // until it closed what it inherited
                fds.clear();
                int n = 0;
                for (int fd = 0; fd < 1024; ++fd) {
                    char path[64], target[256] = {};
                    std::snprintf(path, sizeof path, "/proc/%d/fd/%d", pid, fd);
                    if (::readlink(path, target, sizeof target - 1) < 0) continue;
                    ++n;
                    fds += std::to_string(fd) + "=" + target + " ";
                }
                if (n == 4) break;
                co_await sleep(10ms);
            }
            INFO("fds of the keeper: " << fds);
            CHECK(fds.find("0=/dev/null 1=/dev/null 2=/dev/null") == 0);
            CHECK(fds.find("socket:") != std::string::npos);
            auto st = read_proc_stat(pid);
            REQUIRE(st.has_value());
            CHECK(st->session == pid);
            for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::kill(pid, sig);
            co_await sleep(50ms);
            CHECK(process_alive(*process_ref(pid)));
            k->finish();
        });
    }

    TEST_CASE("a keeper killed while the supervisor lives is reaped and replaced, its groups sent again") {
        Children children;
        pid_t bare = fake_service(children, {});
        REQUIRE(wait_exec(bare));
        std::vector<std::string> said;
        run_test([&](std::stop_token) { return kill_the_keeper(bare, &said); });
        REQUIRE(said.size() == 1);
        CHECK(said[0].find("killed by signal 9") != std::string::npos);
        CHECK(said[0].find("started a new one") != std::string::npos);
        CHECK(killed_within_2s(bare));
    }

    TEST_CASE("the keeper keeps no copy of the host's memory that the host rewrites") {
        // 32 MiB the host wrote before the fork and rewrites after it: each
        // rewritten page would be copied, the keeper keeping the old one.
        const std::size_t size = 32u << 20;
        std::unique_ptr<char[]> big(new char[size]);
        std::memset(big.get(), 1, size);
        run_test([&](std::stop_token) { return rewrite_under_keeper(big.get(), size); });
        CHECK(big[size - 1] == 2);
    }

    TEST_CASE("started from a second thread of a host, the keeper does its job") {
        Children children;
        pid_t tagged = fake_service(children, {"REINS_INSTANCE=web" + tag + "3"});
        pid_t bare = fake_service(children, {});
        REQUIRE(wait_exec(tagged));
        REQUIRE(wait_exec(bare));
        bool started = false;
        std::thread host([&] {
            run_test([&](std::stop_token) { return guard_a_while_and_abandon(bare, &started); });
        });
        host.join();
        REQUIRE(started);
        CHECK(killed_within_2s(tagged));
        CHECK(killed_within_2s(bare));
    }
}
