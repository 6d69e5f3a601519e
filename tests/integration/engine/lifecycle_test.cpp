// Start, readiness, crash loop, restart policy and stop escalation against
// the fixture server.
#include <csignal>

#include "engine_harness.hpp"

using namespace reins;
using namespace reins::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Starts "web", notes its pid and port, and stops it.
Task<void> start_then_stop_web(Supervisor& sv, int* pid, int* port) {
    auto r = co_await sv.start();
    REQUIRE_MESSAGE(r.has_value(), why(r));
    auto st = sv.find("web")->status();
    CHECK(st.state == ServiceState::running);
    *pid = st.pid;
    *port = st.port;
    CHECK(*port > 0);
    CHECK_FALSE(port_is_free("127.0.0.1", *port));  // the fixture listens on $PORT
    std::vector<std::string> which1{"web"};  // not in the co_await (g++ 12)
    auto stopped = co_await sv.stop(which1);
    CHECK(stopped.has_value());
    CHECK(sv.find("web")->status().state == ServiceState::stopped);
    CHECK(sv.find("web")->status().stopped_by == StopStep::signal);
}

// Starts "stubborn" and stops it; *took is how long the stop took.
Task<void> stop_stubborn(Supervisor& sv, Millis* took) {
    auto r = co_await sv.start();
    REQUIRE(r.has_value());
    co_await sleep(100ms);  // let it install its handlers
    auto t0 = Clock::now();
    std::vector<std::string> which2{"stubborn"};  // not in the co_await (g++ 12)
    auto stopped = co_await sv.stop(which2);
    *took = std::chrono::duration_cast<Millis>(Clock::now() - t0);
    CHECK(stopped.has_value());
    CHECK(sv.find("stubborn")->status().stopped_by == StopStep::kill);
    CHECK(sv.find("stubborn")->status().last_exit->signal == SIGKILL);
}

// Starts "polite" and stops it; *took is how long the stop took.
Task<void> stop_polite(Supervisor& sv, Millis* took) {
    (void)co_await sv.start();
    co_await sleep(100ms);
    auto t0 = Clock::now();
    std::vector<std::string> which3{"polite"};  // not in the co_await (g++ 12)
    (void)co_await sv.stop(which3);
    *took = std::chrono::duration_cast<Millis>(Clock::now() - t0);
    CHECK(sv.find("polite")->status().stopped_by == StopStep::signal);
}

// Starts "forker", waits until its grandchild holds `gport`, and checks
// that the port is free once the service stopped.
Task<void> stop_frees_port(Supervisor& sv, int gport) {
    auto r = co_await sv.start();
    REQUIRE_MESSAGE(r.has_value(), why(r));
    for (int i = 0; i < 100 && port_is_free("127.0.0.1", gport); ++i) co_await sleep(10ms);
    CHECK_FALSE(port_is_free("127.0.0.1", gport));
    std::vector<std::string> which4{"forker"};  // not in the co_await (g++ 12)
    (void)co_await sv.stop(which4);
    CHECK(port_is_free("127.0.0.1", gport));
}

// Starts "slow", which never gets ready; *pid is the pid it had.
Task<void> start_times_out(Supervisor& sv, int* pid) {
    auto start = sv.start();
    auto r = co_await std::move(start);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message().find("not ready within 300ms") != std::string::npos);
    *pid = sv.find("slow")->status().pid;
}

// Starts "forker", finds its double-forked grandchild (*gpid) in the
// output, kills it and checks that the subreaper reaped it.
Task<void> orphan_is_reaped(Supervisor& sv, const CollectingSink* sink, int* gpid) {
    auto r = co_await sv.start();
    REQUIRE_MESSAGE(r.has_value(), why(r));
    for (const auto& l : sink->lines)
        if (auto at = l.text.find("grandchild pid "); at != std::string::npos)
            *gpid = std::atoi(l.text.c_str() + at + 15);
    REQUIRE(*gpid > 0);
    auto st = read_proc_stat(*gpid);
    REQUIRE(st.has_value());
    CHECK(st->ppid == ::getpid());  // re-parented to the subreaper, not to init
    ::kill(*gpid, SIGKILL);         // an orphan dies on its own
    for (int i = 0; i < 200 && sv.orphans_reaped() == 0; ++i) co_await sleep(10ms);
    CHECK(sv.orphans_reaped() >= 1);
    CHECK_FALSE(read_proc_stat(*gpid).has_value());  // reaped: no zombie left
}

}  // namespace

TEST_SUITE("lifecycle") {
    TEST_CASE("a service with tcp readiness becomes running on its port, and stop leaves nothing") {
        Supervisor sup;
        auto s = spec("web", fixture_cmd({}));
        s.port = PortSpec::any();
        s.ready.kind = ProbeKind::tcp;
        REQUIRE(sup.add(s));
        int pid = 0, port = 0;
        run_engine(sup, [&](Supervisor& sv, std::stop_token) { return start_then_stop_web(sv, &pid, &port); });
        CHECK_FALSE(pid_alive(pid));
        CHECK(port_is_free("127.0.0.1", port));
    }

    TEST_CASE("the environment carries PORT, REINS_SERVICE and a unique REINS_INSTANCE") {
        CollectingSink sink;
        Supervisor sup(sink_options(&sink));
        auto s = spec("env", CommandSpec{"echo \"port=$PORT svc=$REINS_SERVICE inst=$REINS_INSTANCE\"; sleep 30"});
        s.port = PortSpec::any();
        s.ready.kind = ProbeKind::log;
        s.ready.target = "^port=\\d+ svc=env inst=env\\.";
        REQUIRE(sup.add(s));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            auto r = co_await sv.start();
            REQUIRE_MESSAGE(r.has_value(), why(r));
            auto first = sv.find("env")->status().instance;
            auto again = co_await sv.restart("env");
            CHECK(again.has_value());
            CHECK(sv.find("env")->status().instance != first);  // a new id at every spawn
        });
        CHECK(sink.saw("svc=env"));
    }

    TEST_CASE("a spawn failure names the path and is a failed start") {
        Supervisor sup;
        auto s = spec("ghost", CommandSpec{std::vector<std::string>{"/nonexistent/bin/ghost"}});
        s.restart.mode = RestartMode::no;
        REQUIRE(sup.add(s));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            auto r = co_await sv.start();
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().message().find("/nonexistent/bin/ghost") != std::string::npos);
            CHECK(sv.find("ghost")->status().state == ServiceState::stopped);
        });
    }

    TEST_CASE("a crash loop ends in failed after exactly max restarts, with backoff between") {
        Supervisor sup;
        EventLog log(sup);
        auto s = spec("crash", fixture_cmd({"--no-listen", "--crash-after", "10ms", "--exit-code", "3"}));
        s.restart.max_restarts = 3;
        s.restart.initial = Millis(50);
        s.restart.multiplier = 2.0;
        REQUIRE(sup.add(s));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            auto r = co_await sv.start();
            (void)r;  // ready at spawn (no probe), then it crashes
            for (int i = 0; i < 300 && sv.find("crash")->status().state != ServiceState::failed; ++i)
                co_await sleep(20ms);
        });
        auto st = sup.find("crash")->status();
        CHECK(st.state == ServiceState::failed);
        CHECK(st.restarts == 3);
        REQUIRE(st.last_exit.has_value());
        CHECK(st.last_exit->code == 3);
        auto restarting = log.of("crash", ServiceState::restarting);
        auto starting = log.of("crash", ServiceState::starting);
        // Each crash enters `restarting`; the fourth opens the circuit there
        // (restarting → failed, as the state diagram has it).
        REQUIRE(restarting.size() == 4);
        REQUIRE(starting.size() == 4);
        auto failed = log.of("crash", ServiceState::failed);
        REQUIRE(failed.size() == 1);
        CHECK(failed.front().from == ServiceState::restarting);
        CHECK(failed.front().reason.find("more than 3 restarts within 5m") != std::string::npos);
        // The delay before restart n is initial × 2^(n-1) (no jitter here):
        // measured from `restarting` to the next `starting`, at least that.
        for (std::size_t n = 0; n < 3; ++n) {
            auto gap = std::chrono::duration_cast<Millis>(starting[n + 1].time - restarting[n].time);
            CHECK(gap.count() >= 50 * (1 << n));
            CHECK(gap.count() < 50 * (1 << n) + 2000);  // generous: a loaded machine
        }
    }

    TEST_CASE("a manual restart closes an open circuit") {
        Supervisor sup;
        auto s = spec("crash", fixture_cmd({"--no-listen", "--crash-after", "10ms"}));
        s.restart.max_restarts = 1;
        REQUIRE(sup.add(s));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            (void)co_await sv.start();
            for (int i = 0; i < 300 && sv.find("crash")->status().state != ServiceState::failed; ++i)
                co_await sleep(20ms);
            CHECK(sv.find("crash")->status().state == ServiceState::failed);
            auto r = co_await sv.restart("crash");
            (void)r;
            CHECK(sv.find("crash")->status().state != ServiceState::failed);
        });
    }

    TEST_CASE("restart policy no: a crash is not restarted; always: a clean exit is") {
        Supervisor sup;
        EventLog log(sup);
        auto once = spec("once", fixture_cmd({"--no-listen", "--crash-after", "10ms", "--exit-code", "4"}));
        once.restart.mode = RestartMode::no;
        auto loop = spec("loop", fixture_cmd({"--no-listen", "--crash-after", "10ms", "--exit-code", "0"}));
        loop.restart.mode = RestartMode::always;
        loop.restart.max_restarts = 2;
        REQUIRE(sup.add(once));
        REQUIRE(sup.add(loop));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            (void)co_await sv.start();
            for (int i = 0; i < 300 && sv.find("loop")->status().state != ServiceState::failed; ++i)
                co_await sleep(20ms);
        });
        CHECK(sup.find("once")->status().state == ServiceState::stopped);
        CHECK(log.of("once", ServiceState::restarting).empty());
        CHECK(sup.find("loop")->status().state == ServiceState::failed);
        CHECK(log.of("loop", ServiceState::restarting).size() == 3);  // 2 restarts, then the circuit opens
    }

    TEST_CASE("a child ignoring SIGTERM is killed at stop.timeout, not before") {
        TempDir tmp("engine");
        Supervisor sup;
        auto s = spec("stubborn", fixture_cmd({"--no-listen", "--ignore-term", "--record", tmp / "rec"}));
        s.stop.timeout = Millis(1000);
        s.ready.kind = ProbeKind::none;
        REQUIRE(sup.add(s));
        Millis took{0};
        run_engine(sup, [&took](Supervisor& sv, std::stop_token) { return stop_stubborn(sv, &took); });
        CHECK(took.count() >= 1000);
        CHECK(took.count() < 1500);
        CHECK(read_file(tmp / "rec").find("signal SIGTERM") != std::string::npos);
    }

    TEST_CASE("a process that exits on SIGTERM is never sent SIGKILL and the stop is prompt") {
        TempDir tmp("engine");
        Supervisor sup;
        auto s = spec("polite", fixture_cmd({"--no-listen", "--record", tmp / "rec"}));
        s.stop.timeout = Millis(10000);
        REQUIRE(sup.add(s));
        Millis took{0};
        run_engine(sup, [&took](Supervisor& sv, std::stop_token) { return stop_polite(sv, &took); });
        CHECK(took.count() < 3000);  // never the 10 s grace
        auto rec = read_file(tmp / "rec");
        CHECK(rec.find("exit code=0") != std::string::npos);
    }

    TEST_CASE("a setsid'd grandchild holding a port is gone after stop, and the port binds again") {
        CollectingSink sink;
        Supervisor sup(sink_options(&sink));
        int gport = 0;
        {
            // A port for the grandchild, free now.
            auto p = allocate_port(PortSpec::any());
            REQUIRE(p.has_value());
            gport = *p;
        }
        auto s = spec("forker", fixture_cmd({"--no-listen", "--grandchild", "--grandchild-mode", "setsid",
                                             "--grandchild-ignore-term", "--grandchild-port", std::to_string(gport)}));
        s.stop.timeout = Millis(800);
        s.ready.kind = ProbeKind::log;
        s.ready.target = "grandchild pid";
        REQUIRE(sup.add(s));
        run_engine(sup, [gport](Supervisor& sv, std::stop_token) { return stop_frees_port(sv, gport); });
        // The grandchild's pid from its line: it must be gone.
        for (const auto& l : sink.lines) {
            auto at = l.text.find("grandchild pid ");
            if (at == std::string::npos) continue;
            int gpid = std::atoi(l.text.c_str() + at + 15);
            CHECK_FALSE(pid_alive(gpid));
            if (pid_alive(gpid)) ::kill(gpid, SIGKILL);
        }
    }

    TEST_CASE("startup timeout is a failed start; the process is stopped") {
        Supervisor sup;
        auto s = spec("slow", fixture_cmd({"--no-listen"}));
        s.ready.kind = ProbeKind::log;
        s.ready.target = "never printed";
        s.ready.timeout = Millis(300);
        s.restart.mode = RestartMode::no;
        REQUIRE(sup.add(s));
        int pid = 0;
        run_engine(sup, [&pid](Supervisor& sv, std::stop_token) { return start_times_out(sv, &pid); });
        CHECK(sup.find("slow")->status().state == ServiceState::stopped);
        CHECK_FALSE(pid_alive(pid));
    }
}

TEST_SUITE("lifecycle") {
    TEST_CASE("with the subreaper, a double-forked orphan comes to us and is reaped: no zombie") {
        CollectingSink sink;
        auto opts = sink_options(&sink);
        opts.subreaper = true;
        Supervisor sup(opts);
        auto s = spec("forker", fixture_cmd({"--no-listen", "--grandchild", "--grandchild-mode", "double-fork"}));
        s.ready.kind = ProbeKind::log;
        s.ready.target = "grandchild pid";
        REQUIRE(sup.add(s));
        int gpid = 0;
        run_engine(sup, [&](Supervisor& sv, std::stop_token) { return orphan_is_reaped(sv, &sink, &gpid); });
        if (gpid > 0 && pid_alive(gpid)) ::kill(gpid, SIGKILL);
    }
}
