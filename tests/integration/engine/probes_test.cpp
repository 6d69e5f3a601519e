// Readiness and liveness probes, graceful stop steps, dependencies, ports.
#include <csignal>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "engine_harness.hpp"

using namespace reins;
using namespace reins::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

Task<void> start_and_expect_running(Supervisor& sv, std::string name) {
    std::vector<std::string> which5{name};  // not in the co_await (g++ 12)
    auto r = co_await sv.start(which5);
    REQUIRE_MESSAGE(r.has_value(), why(r));
    CHECK(sv.find(name)->status().state == ServiceState::running);
}

// Starts "api"; *took is how long it took to become running.
Task<void> time_start(Supervisor& sv, Millis* took) {
    auto t0 = Clock::now();
    co_await start_and_expect_running(sv, "api");
    *took = std::chrono::duration_cast<Millis>(Clock::now() - t0);
}

// Starts "api" and stops it; *took is how long the stop took.
Task<void> time_stop(Supervisor& sv, Millis* took) {
    co_await start_and_expect_running(sv, "api");
    auto t0 = Clock::now();
    std::vector<std::string> which7{"api"};  // not in the co_await (g++ 12)
    (void)co_await sv.stop(which7);
    *took = std::chrono::duration_cast<Millis>(Clock::now() - t0);
    CHECK(sv.find("api")->status().stopped_by == StopStep::signal);
}

// A listening socket on 127.0.0.1:port, closed by the destructor.
struct Holder {
    int fd = -1;
    int port = 0;
    Holder() {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd, 4) == 0);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
    }
    ~Holder() { ::close(fd); }
};

}  // namespace

TEST_SUITE("probes") {
    TEST_CASE("http readiness waits for /ready to answer 200") {
        Supervisor sup;
        auto s = spec("api", fixture_cmd({"--ready-after", "300ms"}));
        s.port = PortSpec::any();
        s.ready.kind = ProbeKind::http;
        s.ready.target = "/ready";
        REQUIRE(sup.add(s));
        Millis took{0};
        run_engine(sup, [&took](Supervisor& sv, std::stop_token) { return time_start(sv, &took); });
        CHECK(took.count() >= 300);  // 503 until then
    }

    TEST_CASE("exec readiness runs a command with the service's PORT") {
        Supervisor sup;
        auto s = spec("api", fixture_cmd({}));
        s.port = PortSpec::any();
        s.ready.kind = ProbeKind::exec;
        s.ready.target = "python3 -c \"import socket,os; socket.create_connection(('127.0.0.1', int(os.environ['PORT'])))\"";
        REQUIRE(sup.add(s));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            co_await start_and_expect_running(sv, "api");
        });
    }

    TEST_CASE("notify readiness: READY=1 over NOTIFY_SOCKET, STATUS= shown") {
        Supervisor sup;
        auto s = spec("db", fixture_cmd({"--no-listen", "--notify"}));
        s.ready.kind = ProbeKind::notify;
        REQUIRE(sup.add(s));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            co_await start_and_expect_running(sv, "db");
            for (int i = 0; i < 50 && sv.find("db")->status().status_text.empty(); ++i) co_await sleep(10ms);
            CHECK(sv.find("db")->status().status_text == "fixture ready");
        });
    }

    TEST_CASE("none with `after`: ready only after staying up that long") {
        Supervisor sup;
        auto s = spec("short", fixture_cmd({"--no-listen", "--crash-after", "50ms"}));
        s.ready.after = Millis(500);
        s.restart.mode = RestartMode::no;
        REQUIRE(sup.add(s));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            auto r = co_await sv.start();
            CHECK_FALSE(r.has_value());  // it died before 500 ms: a failed start
        });
    }

    TEST_CASE("failing health checks make it unhealthy and restart it") {
        Supervisor sup;
        EventLog log(sup);
        auto s = spec("sick", fixture_cmd({"--status", "500"}));
        s.port = PortSpec::any();
        s.ready.kind = ProbeKind::tcp;
        s.health.kind = ProbeKind::http;
        s.health.target = "/health";
        s.health.interval = Millis(50);
        s.health.timeout = Millis(500);
        s.health.failures = 2;
        REQUIRE(sup.add(s));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            co_await start_and_expect_running(sv, "sick");
            for (int i = 0; i < 200 && sv.find("sick")->status().restarts == 0; ++i) co_await sleep(10ms);
            CHECK(sv.find("sick")->status().restarts >= 1);
        });
        bool unhealthy = false;
        for (const auto& e : log.events)
            if (e.reason.find("unhealthy") != std::string::npos) unhealthy = true;
        CHECK(unhealthy);
    }

    TEST_CASE("stop.http makes the service exit by itself, without a signal") {
        TempDir tmp("engine");
        Supervisor sup;
        auto s = spec("api", fixture_cmd({"--record", tmp / "rec"}));
        s.port = PortSpec::any();
        s.ready.kind = ProbeKind::tcp;
        s.stop.http = HttpAction{"POST", "/admin/shutdown"};
        REQUIRE(sup.add(s));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            co_await start_and_expect_running(sv, "api");
            std::vector<std::string> which6{"api"};  // not in the co_await (g++ 12)
            (void)co_await sv.stop(which6);
            CHECK(sv.find("api")->status().stopped_by == StopStep::http);
        });
        CHECK(read_file(tmp / "rec").find("signal SIGTERM") == std::string::npos);
    }

    TEST_CASE("stop.http that only acknowledges costs at most half the grace, then the signal") {
        Supervisor sup;
        auto s = spec("api", fixture_cmd({"--shutdown-ack-only"}));
        s.port = PortSpec::any();
        s.ready.kind = ProbeKind::tcp;
        s.stop.http = HttpAction{"POST", "/admin/shutdown"};
        s.stop.timeout = Millis(1000);
        REQUIRE(sup.add(s));
        Millis took{0};
        run_engine(sup, [&took](Supervisor& sv, std::stop_token) { return time_stop(sv, &took); });
        CHECK(took.count() >= 500);
        CHECK(took.count() < 1000);
    }

    TEST_CASE("stop.pre writes the checkpoint marker before the stop") {
        TempDir tmp("engine");
        Supervisor sup;
        auto s = spec("db", fixture_cmd({"--checkpoint-file", tmp / "cp"}));
        s.port = PortSpec::any();
        s.ready.kind = ProbeKind::tcp;
        s.stop.pre = HttpAction{"POST", "/admin/checkpoint"};
        REQUIRE(sup.add(s));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            co_await start_and_expect_running(sv, "db");
            std::vector<std::string> which8{"db"};  // not in the co_await (g++ 12)
            (void)co_await sv.stop(which8);
        });
        CHECK(read_file(tmp / "cp").find("checkpoint") != std::string::npos);
    }

    TEST_CASE("dependencies start first and stop last") {
        Supervisor sup;
        EventLog log(sup);
        auto db = spec("db", fixture_cmd({}));
        db.port = PortSpec::any();
        db.ready.kind = ProbeKind::tcp;
        auto api = spec("api", fixture_cmd({}));
        api.port = PortSpec::any();
        api.ready.kind = ProbeKind::tcp;
        api.depends_on = {{"db"}};
        auto web = spec("web", fixture_cmd({"--no-listen"}));
        web.depends_on = {{"api"}};
        std::vector<ServiceSpec> three{web, api, db};  // dependents first: added as one set
        REQUIRE(sup.add(std::move(three)));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            std::vector<std::string> which9{"web"};  // not in the co_await (g++ 12)
            auto r = co_await sv.start(which9);
            REQUIRE_MESSAGE(r.has_value(), why(r));
            (void)co_await sv.stop();
        });
        auto t = [&](const char* n, ServiceState s) {
            auto ev = log.of(n, s);
            REQUIRE(!ev.empty());
            return ev.front().time;
        };
        CHECK(t("db", ServiceState::running) <= t("api", ServiceState::starting));
        CHECK(t("api", ServiceState::running) <= t("web", ServiceState::starting));
        CHECK(t("web", ServiceState::stopped) <= t("api", ServiceState::stopping));
        CHECK(t("api", ServiceState::stopped) <= t("db", ServiceState::stopping));
    }

    TEST_CASE("a dependency cycle and an unknown dependency are refused by add, naming them") {
        Supervisor sup;
        auto a = spec("a", fixture_cmd({}));
        a.depends_on = {{"b"}};
        auto b = spec("b", fixture_cmd({}));
        b.depends_on = {{"a"}};
        std::vector<ServiceSpec> both{a, b};
        auto v = sup.add(std::move(both));
        REQUIRE_FALSE(v.has_value());
        CHECK(v.error().message().find("a → b → a") != std::string::npos);
        CHECK(sup.names().empty());  // all or nothing
        auto c = spec("c", fixture_cmd({}));
        c.depends_on = {{"nope"}};
        auto u = sup.add(c);
        REQUIRE_FALSE(u.has_value());
        CHECK(u.error().message().find("unknown service nope") != std::string::npos);
        CHECK(sup.find("c") == nullptr);
        // A dependency added earlier is known.
        auto d = spec("d", fixture_cmd({}));
        REQUIRE(sup.add(d));
        auto e = spec("e", fixture_cmd({}));
        e.depends_on = {{"d"}};
        CHECK(sup.add(e).has_value());
    }

    TEST_CASE("an unknown name is not_found, a stop of a stopped service not_running") {
        Supervisor sup;
        REQUIRE(sup.add(spec("a", fixture_cmd({}))));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            auto r = co_await sv.restart("nope");
            CHECK_FALSE(r.has_value());
            if (!r) {
                CHECK(r.error().is(Errc::not_found));
                CHECK(r.error().message().find("no service named nope") != std::string::npos);
            }
            std::vector<std::string> which{"a"};
            auto s = co_await sv.stop(which);
            CHECK_FALSE(s.has_value());
            if (!s) {
                CHECK(s.error().is(Errc::not_running));
                CHECK(s.error().message().find("already exited") == std::string::npos);
            }
        });
    }

    TEST_CASE("a busy fixed port is reported with its holder, without spawning") {
        Holder held;
        Supervisor sup;
        auto s = spec("web", fixture_cmd({}));
        s.port = PortSpec::fixed_port(held.port);
        REQUIRE(sup.add(s));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            auto r = co_await sv.start();
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().code.category() == port_category());
            CHECK(r.error().message().find("in use by pid " + std::to_string(::getpid())) != std::string::npos);
            CHECK(sv.find("web")->status().state == ServiceState::failed);
            CHECK(sv.find("web")->status().pid == 0);
        });
    }
}
