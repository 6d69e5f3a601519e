// What a stop reaches, and how often: each signal once per process, strays
// found below the service by parent, orphans stopped with the supervisor.
#include <csignal>

#include "engine_harness.hpp"

using namespace reins;
using namespace reins::test;
using namespace std::chrono_literals;

namespace {

// The pid a line "<word> <pid>" of the output names, once printed (0: none).
int pid_after(const CollectingSink& sink, const std::string& word) {
    for (const auto& l : sink.lines)
        if (auto at = l.text.find(word + " "); at != std::string::npos)
            return std::atoi(l.text.c_str() + at + word.size() + 1);
    return 0;
}

// Waits until `pid` runs in a session of its own (it called setsid()).
Task<bool> in_own_session(int pid) {
    for (int i = 0; i < 300; ++i) {
        auto st = read_proc_stat(pid);
        if (st && st->session == pid) co_return true;
        co_await sleep(10ms);
    }
    co_return false;
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

// A service running `command` that prints "stray <pid>" of a process it
// started, ready once that line is out.
ServiceSpec with_stray(std::string name, std::string command) {
    auto s = spec(std::move(name), CommandSpec{std::move(command)});
    s.ready.kind = ProbeKind::log;
    s.ready.target = "^stray \\d+$";
    return s;
}

// Starts the services and finds the stray of the "stray <pid>" line
// (*stray), once it runs in a session of its own.
Task<void> start_with_stray(Supervisor& sv, const CollectingSink* sink, int* stray) {
    auto r = co_await sv.start();
    REQUIRE_MESSAGE(r.has_value(), why(r));
    *stray = pid_after(*sink, "stray");
    REQUIRE(*stray > 0);
    bool alone = co_await in_own_session(*stray);
    REQUIRE(alone);
}

// The stray of "escaper" carries no instance tag, and stopping the
// service stops it too.
Task<void> stop_escaper(Supervisor& sv, const CollectingSink* sink, int* stray) {
    co_await start_with_stray(sv, sink, stray);
    CHECK_FALSE(carries_instance(*stray, sv.find("escaper")->status().instance));
    std::vector<std::string> which{"escaper"};  // not in the co_await (g++ 12)
    (void)co_await sv.stop(which);
    CHECK_FALSE(pid_alive(*stray));  // before the supervisor ends
}

// The stray of "orphaner" is adopted by the subreaper (this process).
Task<void> adopt_orphan(Supervisor& sv, const CollectingSink* sink, int* stray) {
    co_await start_with_stray(sv, sink, stray);
    for (int i = 0; i < 300; ++i) {
        auto st = read_proc_stat(*stray);
        if (st && st->ppid == ::getpid()) break;
        co_await sleep(10ms);
    }
    CHECK(read_proc_stat(*stray)->ppid == ::getpid());  // adopted by the subreaper
}

// Kills `pid` when the test ends, whatever happened (a stray the test looks
// for must not outlive a failing test).
struct KillAtEnd {
    int* pid;
    ~KillAtEnd() {
        if (*pid > 0 && pid_alive(*pid)) ::kill(*pid, SIGKILL);
    }
};

}  // namespace

TEST_SUITE("stopping") {
    TEST_CASE("each stop signal reaches the main process once, not through its group, pid and tag each") {
        TempDir tmp("engine");
        Supervisor sup;
        auto s = spec("counted", fixture_cmd({"--no-listen", "--record", tmp / "rec"}));
        // A real-time signal is queued, never merged: the fixture records
        // every delivery (three SIGTERMs sent at once can arrive as one).
        // The fixture only records it, so SIGKILL ends the stop.
        s.stop.signal = SIGRTMIN;
        s.stop.timeout = Millis(500);
        s.ready.kind = ProbeKind::none;
        REQUIRE(sup.add(s));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            auto r = co_await sv.start();
            REQUIRE_MESSAGE(r.has_value(), why(r));
            co_await sleep(100ms);  // let it install its handlers
            std::vector<std::string> which{"counted"};  // not in the co_await (g++ 12)
            auto stopped = co_await sv.stop(which);
            CHECK(stopped.has_value());
            CHECK(sv.find("counted")->status().stopped_by == StopStep::kill);
        });
        const std::string rec = read_file(tmp / "rec");
        CHECK_MESSAGE(occurrences(rec, "signal SIG" + std::to_string(SIGRTMIN) + " ") == 1, rec);
    }

    TEST_CASE("a child that cleared its environment and called setsid is stopped with its service") {
        CollectingSink sink;
        Supervisor sup(sink_options(&sink));
        // No REINS_INSTANCE, another session and group: only its parent links it.
        REQUIRE(sup.add(with_stray("escaper", "env -i setsid sleep 300 & echo \"stray $!\"; exec sleep 300")));
        int stray = 0;
        KillAtEnd guard{&stray};
        run_engine(sup, [&](Supervisor& sv, std::stop_token) { return stop_escaper(sv, &sink, &stray); });
    }

    TEST_CASE("an orphan that cleared its environment and called setsid is stopped when the supervisor ends") {
        CollectingSink sink;
        auto opts = sink_options(&sink);
        opts.subreaper = true;
        Supervisor sup(opts);
        // Its parent (the subshell) exits at once: the subreaper adopts it,
        // and nothing names its service any more (docs/engine.md).
        REQUIRE(sup.add(with_stray("orphaner", "(env -i setsid sleep 300 & echo \"stray $!\"); exec sleep 300")));
        int stray = 0;
        KillAtEnd guard{&stray};
        run_engine(sup, [&](Supervisor& sv, std::stop_token) { return adopt_orphan(sv, &sink, &stray); });
        // run() has returned: the supervisor stopped its services, then its orphans.
        CHECK_FALSE(pid_alive(stray));
    }
}
