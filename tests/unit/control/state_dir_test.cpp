// The state directory: reins.lock, state.json, pid files, and the survivors
// of a killed supervisor (docs/cli.md, The state directory). Real files, real processes.
#include <doctest/doctest.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "reins/control/state_file.hpp"
#include "reins/control/supervisor_lock.hpp"
#include "fixture.hpp"
#include "reins/control/survivors.hpp"
#include "temp_dir.hpp"

using namespace reins;
using namespace reins::control;
using reins::test::TempDir;
using namespace std::chrono_literals;
using supervisor::ProcessRef;

namespace {

std::string slurp(const std::string& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

unsigned mode_of(const std::string& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

bool exists(const std::string& p) { return ::access(p.c_str(), F_OK) == 0; }

std::vector<std::string> entries(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
}

uint64_t own_start_time() {
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
    TEST_CASE("the lock creates the state dir 0700 and writes who holds it") {
        TempDir tmp("state");
        StatePaths paths{tmp.path + "/a/b/.reins"};
        auto lock = SupervisorLock::acquire(paths, "9.8.7");
        REQUIRE_MESSAGE(lock.has_value(), lock.error().message());
        CHECK(mode_of(paths.dir) == 0700);
        CHECK(mode_of(paths.lock()) == 0600);
        CHECK(slurp(paths.pid()) == std::to_string(::getpid()) + "\n");
        auto j = nlohmann::json::parse(slurp(paths.lock()));
        CHECK(j["pid"] == ::getpid());
        CHECK(j["start_time"] == own_start_time());
        CHECK(j["version"] == "9.8.7");
        std::string at = j["started_at"];
        CHECK(at.size() == 24);
        CHECK(at.back() == 'Z');
        CHECK(at[10] == 'T');

        // Another open file description of the same process conflicts too.
        LockInfo holder;
        auto second = SupervisorLock::acquire(paths, "9.8.7", &holder);
        REQUIRE_FALSE(second.has_value());
        CHECK(second.error().code == LockErrc::busy);
        CHECK(holder.pid == ::getpid());
        CHECK(second.error().context == "another supervisor (pid " + std::to_string(::getpid()) + ") is running on " +
                                            paths.dir + " (lock " + paths.lock() + ")");
        auto state = inspect_lock(paths);
        CHECK(state.exists);
        CHECK(state.held);
        REQUIRE(state.info.has_value());
        CHECK(state.info->pid == ::getpid());

        lock->release();
        CHECK_FALSE(exists(paths.pid()));
        CHECK(exists(paths.lock()));  // never removed: see supervisor_lock.hpp
        state = inspect_lock(paths);
        CHECK(state.exists);
        CHECK_FALSE(state.held);
        auto again = SupervisorLock::acquire(paths, "9.8.7");
        REQUIRE(again.has_value());
        CHECK(again->held());
    }

    TEST_CASE("looser modes of an existing dir and lock file are tightened") {
        TempDir tmp("state");
        StatePaths paths{tmp.path + "/.reins"};
        REQUIRE(::mkdir(paths.dir.c_str(), 0755) == 0);
        REQUIRE(::chmod(paths.dir.c_str(), 0755) == 0);
        { std::ofstream(paths.lock()) << "not json"; }
        REQUIRE(::chmod(paths.lock().c_str(), 0644) == 0);
        auto before = inspect_lock(paths);
        CHECK(before.exists);
        CHECK_FALSE(before.held);
        CHECK_FALSE(before.info.has_value());
        auto lock = SupervisorLock::acquire(paths, "1");
        REQUIRE(lock.has_value());
        CHECK(mode_of(paths.dir) == 0700);
        CHECK(mode_of(paths.lock()) == 0600);
        CHECK(inspect_lock(paths).info->pid == ::getpid());
        CHECK_FALSE(inspect_lock(StatePaths{tmp.path + "/none"}).exists);
    }

    TEST_CASE("another process cannot take the lock, and takes it over once the holder was killed") {
        TempDir tmp("state");
        StatePaths paths{tmp.path + "/.reins"};
        {
            auto lock = SupervisorLock::acquire(paths, "1");
            REQUIRE(lock.has_value());
            Child c;
            c.pid = ::fork();
            REQUIRE(c.pid >= 0);
            if (c.pid == 0) {
                LockInfo holder;
                auto r = SupervisorLock::acquire(paths, "1", &holder);
                ::_exit(!r && r.error().code == LockErrc::busy && holder.pid == ::getppid() ? 0 : 1);
            }
            int st = c.wait();
            CHECK(WIFEXITED(st));
            CHECK(WEXITSTATUS(st) == 0);
        }

        // A child holds it (and dies by SIGKILL, leaving its files behind).
        int ready[2];
        REQUIRE(::pipe2(ready, O_CLOEXEC) == 0);
        Child c;
        c.pid = ::fork();
        REQUIRE(c.pid >= 0);
        if (c.pid == 0) {
            auto r = SupervisorLock::acquire(paths, "child");
            char b = r ? 'y' : 'n';
            if (::write(ready[1], &b, 1) != 1) ::_exit(1);
            for (;;) ::pause();
        }
        ::close(ready[1]);
        char b = 0;
        REQUIRE(::read(ready[0], &b, 1) == 1);
        ::close(ready[0]);
        REQUIRE(b == 'y');
        LockInfo holder;
        auto busy = SupervisorLock::acquire(paths, "1", &holder);
        REQUIRE_FALSE(busy.has_value());
        CHECK(busy.error().code == LockErrc::busy);
        CHECK(holder.pid == c.pid);
        CHECK(holder.version == "child");
        CHECK(busy.error().message().find("(pid " + std::to_string(c.pid) + ")") != std::string::npos);
        CHECK(inspect_lock(paths).held);

        ::kill(c.pid, SIGKILL);
        c.wait();
        auto stale = inspect_lock(paths);
        CHECK(stale.exists);
        CHECK_FALSE(stale.held);
        auto lock = SupervisorLock::acquire(paths, "1");
        REQUIRE_MESSAGE(lock.has_value(), lock.error().message());
        CHECK(lock->info().pid == ::getpid());
        CHECK(slurp(paths.pid()) == std::to_string(::getpid()) + "\n");
    }

    TEST_CASE("relock: the state dir removed under the holder is created and locked again") {
        TempDir tmp("state");
        StatePaths paths{tmp.path + "/.reins"};
        auto lock = SupervisorLock::acquire(paths, "1");
        REQUIRE(lock.has_value());
        const LockInfo before = lock->info();
        std::filesystem::remove_all(paths.dir);
        CHECK_FALSE(inspect_lock(paths).exists);
        auto again = lock->relock();
        REQUIRE_MESSAGE(again.has_value(), again.error().message());
        CHECK(mode_of(paths.dir) == 0700);
        CHECK(mode_of(paths.lock()) == 0600);
        CHECK(slurp(paths.pid()) == std::to_string(::getpid()) + "\n");
        auto state = inspect_lock(paths);
        CHECK(state.held);
        REQUIRE(state.info.has_value());
        CHECK(state.info->pid == before.pid);
        CHECK(state.info->started_at == before.started_at);  // the same supervisor, not a new one

        // Moved away: the new folder is locked, the moved one let go.
        const std::string moved = tmp.path + "/moved";
        REQUIRE(::rename(paths.dir.c_str(), moved.c_str()) == 0);
        REQUIRE(lock->relock().has_value());
        CHECK(inspect_lock(paths).held);
        CHECK_FALSE(inspect_lock(StatePaths{moved}).held);

        // Taken by another holder first: busy, naming it; ours is kept.
        std::filesystem::remove_all(paths.dir);
        auto other = SupervisorLock::acquire(paths, "2");  // another open file description conflicts like a process
        REQUIRE(other.has_value());
        LockInfo holder;
        auto busy = lock->relock(&holder);
        REQUIRE_FALSE(busy.has_value());
        CHECK(busy.error().code == LockErrc::busy);
        CHECK(holder.version == "2");
        CHECK(lock->held());
        // Abandoning ours leaves the other holder's reins.pid and lock alone.
        lock->abandon();
        CHECK_FALSE(lock->held());
        CHECK(exists(paths.pid()));
        CHECK(inspect_lock(paths).held);
        lock->release();  // a no-op now
        CHECK(exists(paths.pid()));
    }

    TEST_CASE("write_file_atomic replaces the file whole, leaves no temp file, sets the mode") {
        TempDir tmp("state");
        const std::string p = tmp.path + "/f.json";
        mode_t old = ::umask(077);
        REQUIRE(write_file_atomic(p, "one").has_value());
        REQUIRE(write_file_atomic(p, "two\n", 0644).has_value());
        ::umask(old);
        CHECK(slurp(p) == "two\n");
        CHECK(mode_of(p) == 0644);
        REQUIRE(write_file_atomic(p, "three").has_value());
        CHECK(mode_of(p) == 0600);
        CHECK(entries(tmp.path) == std::vector<std::string>{"f.json"});

        auto bad = write_file_atomic(tmp.path + "/missing/f.json", "x");
        REQUIRE_FALSE(bad.has_value());
        CHECK(bad.error().message().find(tmp.path + "/missing/f.json") != std::string::npos);
        CHECK(entries(tmp.path) == std::vector<std::string>{"f.json"});
    }

    TEST_CASE("pid files") {
        TempDir tmp("state");
        StatePaths paths{tmp.path};
        REQUIRE(write_pid_file(paths, "web", 4242).has_value());
        CHECK(slurp(paths.pid_file("web")) == "4242\n");
        CHECK(mode_of(paths.pid_file("web")) == 0600);
        remove_pid_file(paths, "web");
        CHECK_FALSE(exists(paths.pid_file("web")));
        remove_pid_file(paths, "web");  // already gone: fine
    }

    TEST_CASE("the lock carries the holder's own data, read back by whoever finds it busy") {
        TempDir tmp("state");
        StatePaths paths{tmp.path + "/.reins"};
        {
            auto plain = SupervisorLock::acquire(paths, "1.0");
            REQUIRE_MESSAGE(plain.has_value(), plain.error().message());
            auto j = nlohmann::json::parse(slurp(paths.lock()));
            CHECK_FALSE(j.contains("data"));  // omitted when empty
            CHECK_FALSE(plain->previous().has_value());  // a new lock file said nothing
        }
        auto lock = SupervisorLock::acquire(paths, "1.0", nullptr, "port 8123");
        REQUIRE_MESSAGE(lock.has_value(), lock.error().message());
        CHECK(lock->info().data == "port 8123");
        auto j = nlohmann::json::parse(slurp(paths.lock()));
        CHECK(j["data"] == "port 8123");
        // What the file said before: the previous holder (this process, released).
        REQUIRE(lock->previous().has_value());
        CHECK(lock->previous()->pid == ::getpid());
        CHECK(lock->previous()->data.empty());

        LockInfo holder;
        auto busy = SupervisorLock::acquire(paths, "1.0", &holder, "port 9999");
        REQUIRE_FALSE(busy.has_value());
        CHECK(busy.error().code == LockErrc::busy);
        CHECK(holder.pid == ::getpid());
        CHECK(holder.data == "port 8123");
        auto state = inspect_lock(paths);
        REQUIRE(state.info.has_value());
        CHECK(state.info->data == "port 8123");
        CHECK(nlohmann::json::parse(slurp(paths.lock()))["data"] == "port 8123");  // the loser wrote nothing
    }

    TEST_CASE("state.json round trip, missing file, garbage, wrong types") {
        TempDir tmp("state");
        StatePaths paths{tmp.path};
        auto missing = read_state(paths);
        REQUIRE_FALSE(missing.has_value());
        CHECK(missing.error().code == std::errc::no_such_file_or_directory);
        CHECK(missing.error().message().find(paths.state()) != std::string::npos);

        StateSnapshot snap;
        snap.supervisor = LockInfo{812, 123456789012ull, "2026-11-22T10:15:03.123Z", "0.1.0", "port 8123"};
        snap.config = "/home/u/app/reins.toml";
        snap.services.push_back(ServiceRecord{"web", "running", "healthy", 4242, 987654321ull, 5173, 2, "id-web",
                                              "2026-11-22T10:15:04.000Z", "exit 3", "serving"});
        snap.services.push_back(ServiceRecord{"db", "stopped", "", 0, 0, 0, 0, "", "", "signal 9", ""});
        REQUIRE(write_state(paths, snap).has_value());
        CHECK(mode_of(paths.state()) == 0600);
        auto back = read_state(paths);
        REQUIRE_MESSAGE(back.has_value(), back.error().message());
        CHECK(to_json(*back) == to_json(snap));
        CHECK(back->supervisor.start_time == 123456789012ull);
        CHECK(back->supervisor.data == "port 8123");
        REQUIRE(back->services.size() == 2);
        CHECK(back->services[0].pid_start_time == 987654321ull);
        CHECK(back->services[0].status_text == "serving");
        CHECK(back->services[1].last_exit == "signal 9");
        CHECK(nlohmann::json::parse(slurp(paths.state()))["version"] == state_file_version);

        // Missing fields keep their defaults.
        auto sparse = state_from_json(nlohmann::json::parse(R"({"services":[{"name":"x","pid":7}]})"));
        REQUIRE(sparse.has_value());
        CHECK(sparse->services.at(0).pid == 7);
        CHECK(sparse->services.at(0).state.empty());
        CHECK(sparse->supervisor.pid == 0);

        auto typed = state_from_json(nlohmann::json::parse(R"({"services":[{"name":"x","pid":"7"}]})"));
        REQUIRE_FALSE(typed.has_value());
        CHECK(typed.error().message().find("services[0].pid") != std::string::npos);
        CHECK_FALSE(state_from_json(nlohmann::json::parse(R"({"services":{}})")).has_value());
        CHECK_FALSE(state_from_json(nlohmann::json::parse(R"({"supervisor":{"start_time":-1}})")).has_value());
        CHECK_FALSE(state_from_json(nlohmann::json::parse("[]")).has_value());

        REQUIRE(write_file_atomic(paths.state(), "{\"services\": [").has_value());
        auto garbage = read_state(paths);
        REQUIRE_FALSE(garbage.has_value());
        CHECK(garbage.error().message().find(paths.state()) != std::string::npos);
        REQUIRE(write_file_atomic(paths.state(), R"({"config": 3})").has_value());
        auto wrong = read_state(paths);
        REQUIRE_FALSE(wrong.has_value());
        CHECK(wrong.error().message().find(paths.state()) != std::string::npos);
        CHECK(wrong.error().message().find("config") != std::string::npos);
    }

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
