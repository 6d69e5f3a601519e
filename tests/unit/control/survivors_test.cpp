// The survivors of a killed supervisor: found by pid and start time or by
// REINS_INSTANCE, stopped (TERM-ignoring ones by SIGKILL), and a recycled pid
// never touched. Real processes: the fixture server.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fixture.hpp"
#include "reins/control/state_file.hpp"
#include "reins/control/survivors.hpp"
#include "state_dir_harness.hpp"

using namespace reins;
using namespace reins::control;
using namespace reins::test;
using namespace std::chrono_literals;
using supervisor::ProcessRef;

namespace {

// Kills processes we only know by ProcessRef (never a recycled pid).
struct RefGuard {
    std::vector<ProcessRef> refs;
    ~RefGuard() { supervisor::signal_all(refs, SIGKILL); }
};

std::string unique_instance() {
    static std::atomic<int> n{0};
    return "state-test-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

// Starts the fixture (--no-listen) in a session of its own, like the
// supervisor starts a service, with REINS_INSTANCE=`instance` and its stdout on a pipe.
void spawn_fixture(Child& c, const std::string& instance, std::vector<std::string> flags) {
    std::vector<std::string> args{reins::test::fixture_path(), "--no-listen"};
    for (auto& f : flags) args.push_back(std::move(f));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    c.pid = ::fork();
    REQUIRE(c.pid >= 0);
    if (c.pid == 0) {
        ::setsid();
        ::setenv("REINS_INSTANCE", instance.c_str(), 1);
        ::dup2(fds[1], 1);
        int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, 2);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    c.out = fds[0];
}

// What the fixture printed up to its "fixture up" line: it prints it once
// its signal handlers are in place ("" after 5 s).
std::string read_until_up(int fd) {
    std::string text;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (text.find("fixture up\n") == std::string::npos) {
        if (std::chrono::steady_clock::now() >= deadline) return {};
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        char buf[512];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) return {};
        text.append(buf, static_cast<std::size_t>(n));
    }
    return text;
}

// The pid P of a "fixture: grandchild pid P listening" line, or 0.
pid_t grandchild_pid(const std::string& text) {
    static constexpr std::string_view tag = "fixture: grandchild pid ";
    auto pos = text.find(tag);
    return pos == std::string::npos ? 0 : static_cast<pid_t>(std::atoi(text.c_str() + pos + tag.size()));
}

// Starts the fixture and waits until it is up; returns what it printed.
std::string start_fixture(Child& c, const std::string& instance, std::vector<std::string> flags) {
    flags.insert(flags.end(), {"--print-ready", "fixture up"});
    spawn_fixture(c, instance, std::move(flags));
    std::string text = read_until_up(c.out);
    REQUIRE_MESSAGE(!text.empty(), "the fixture did not come up");
    return text;
}

ProcessRef ref_of(pid_t pid) {
    auto ref = supervisor::process_ref(pid);
    REQUIRE(ref.has_value());
    return *ref;
}

bool has_pid(const std::vector<Survivor>& v, pid_t pid) {
    return std::count_if(v.begin(), v.end(), [pid](const Survivor& s) { return s.process.pid == pid; }) == 1;
}

}  // namespace

TEST_SUITE("state") {
    TEST_CASE("survivors of a killed supervisor are found and stopped, TERM-ignoring ones by SIGKILL") {
        const std::string id = unique_instance();
        Child c;
        pid_t g = grandchild_pid(
            start_fixture(c, id, {"--ignore-term", "--grandchild-mode", "setsid", "--grandchild-ignore-term"}));
        REQUIRE(g > 0);
        RefGuard guard;
        auto gref = supervisor::process_ref(g);
        REQUIRE(gref.has_value());
        guard.refs.push_back(*gref);
        const ProcessRef main = ref_of(c.pid);

        StateSnapshot snap;
        snap.services.push_back(ServiceRecord{"web", "running", "", c.pid, main.start_time, 0, 0, id, "", "", ""});
        auto found = find_survivors(snap);
        REQUIRE(found.size() == 2);
        CHECK(found[0].process == main);  // the main pid first
        CHECK(found[0].service == "web");
        CHECK(found[0].command.find("--ignore-term") != std::string::npos);
        CHECK(found[0].command.size() <= 200);
        CHECK(has_pid(found, g));

        // Without a trusted main pid, REINS_INSTANCE alone finds them both.
        StateSnapshot by_instance;
        by_instance.services.push_back(ServiceRecord{"web", "running", "", 0, 0, 0, 0, id, "", "", ""});
        auto found2 = find_survivors(by_instance);
        CHECK(found2.size() == 2);
        CHECK(has_pid(found2, c.pid));
        CHECK(has_pid(found2, g));

        auto t0 = std::chrono::steady_clock::now();
        auto left = stop_survivors(found, 300ms);
        auto took = std::chrono::steady_clock::now() - t0;
        REQUIRE(left.empty());  // else c.wait() would block: ~Child kills it
        CHECK(took >= 290ms);  // they ignore SIGTERM: only the SIGKILL after the grace ends them
        CHECK(took < 3s);
        CHECK_FALSE(supervisor::process_alive(main));
        CHECK_FALSE(supervisor::process_alive(*gref));
        int st = c.wait();
        CHECK(WIFSIGNALED(st));
        CHECK(WTERMSIG(st) == SIGKILL);
        CHECK(find_survivors(snap).empty());
    }

    TEST_CASE("a process that exits on SIGTERM is stopped at once") {
        const std::string id = unique_instance();
        Child c;
        start_fixture(c, id, {});
        const ProcessRef main = ref_of(c.pid);
        StateSnapshot snap;
        snap.services.push_back(ServiceRecord{"api", "running", "", c.pid, main.start_time, 0, 0, id, "", "", ""});
        auto found = find_survivors(snap);
        REQUIRE(found.size() == 1);
        auto t0 = std::chrono::steady_clock::now();
        REQUIRE(stop_survivors(found, 10s).empty());  // our unreaped child is a zombie: gone
        CHECK(std::chrono::steady_clock::now() - t0 < 3s);
        int st = c.wait();
        CHECK(WIFEXITED(st));
        CHECK(WEXITSTATUS(st) == 0);
    }

    TEST_CASE("a recorded pid whose start time does not match is neither reported nor signalled") {
        Child c;
        start_fixture(c, unique_instance(), {});  // exits on SIGTERM: any signal would show
        const ProcessRef child = ref_of(c.pid);

        StateSnapshot snap;
        const int self = static_cast<int>(::getpid());
        snap.services.push_back(ServiceRecord{"me", "running", "", self, own_start_time() + 1, 0, 0, "", "", "", ""});
        snap.services.push_back(
            ServiceRecord{"recycled", "running", "", c.pid, child.start_time + 1, 0, 0, "", "", "", ""});
        snap.services.push_back(ServiceRecord{"untimed", "running", "", c.pid, 0, 0, 0, "", "", "", ""});
        CHECK(find_survivors(snap).empty());

        // Even handed such survivors, stop_survivors signals nobody.
        std::vector<Survivor> stale{Survivor{"me", ProcessRef{::getpid(), own_start_time() + 1}, ""},
                                    Survivor{"recycled", ProcessRef{c.pid, child.start_time + 1}, ""}};
        CHECK(stop_survivors(stale, 100ms).empty());
        ::usleep(100000);
        CHECK(supervisor::process_alive(child));
        int st = 0;
        CHECK(::waitpid(c.pid, &st, WNOHANG) == 0);

        // Our own process is never a survivor, even with its true start time.
        StateSnapshot self_snap;
        self_snap.services.push_back(ServiceRecord{"me", "running", "", self, own_start_time(), 0, 0, "", "", "", ""});
        CHECK(find_survivors(self_snap).empty());
    }
}
