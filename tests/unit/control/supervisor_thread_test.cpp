// SupervisorThread: reins on its own thread, driven from the test's threads.
// Real processes, real sockets, real threads.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "reins/control/supervisor_thread.hpp"

using namespace reins;
using namespace reins::control;
using namespace std::chrono_literals;
using supervisor::ServiceSpec;
using supervisor::ServiceState;

namespace {

ServiceSpec sh(std::string name, std::string script) {
    ServiceSpec s;
    s.name = std::move(name);
    s.command.value = std::move(script);
    s.stop.timeout = std::chrono::milliseconds(2000);
    return s;
}

bool alive(int pid) { return pid > 0 && ::kill(pid, 0) == 0; }

// A loopback port held by this test (closed by the destructor).
struct HeldPort {
    int fd = -1;
    int port = 0;
    HeldPort() {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd, 1) == 0);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
    }
    ~HeldPort() { ::close(fd); }
};

std::unique_ptr<SupervisorThread> open_ok(SupervisorThread::Options o = {}) {
    Outcome failed;
    auto t = SupervisorThread::open(std::move(o), &failed);
    INFO(failed.message);
    REQUIRE(t);
    return t;
}

}  // namespace

TEST_SUITE("thread") {

TEST_CASE("start, status and stop from the host's thread; events queued behind the event fd") {
    SupervisorThread::Options o;
    o.queue_events = true;
    auto t = open_ok(o);
    REQUIRE(t->event_fd() >= 0);
    REQUIRE(t->add(sh("api", "exec sleep 30")));
    auto up = t->start({"api"}, 10s);
    INFO(up.message);
    REQUIRE(up);
    REQUIRE(up.services.size() == 1);
    CHECK(up.services[0].state == ServiceState::running);
    const int pid = up.services[0].pid;
    CHECK(alive(pid));

    pollfd p{t->event_fd(), POLLIN, 0};
    CHECK(::poll(&p, 1, 2000) == 1);
    auto events = t->take_events();
    bool saw_running = false;
    for (const auto& e : events)
        saw_running = saw_running || (e.kind == HostEvent::Kind::transition && e.transition.to == ServiceState::running &&
                                      e.service == "api");
    CHECK(saw_running);
    p.revents = 0;
    CHECK(::poll(&p, 1, 0) == 0);  // drained: no longer readable

    auto st = t->status();
    REQUIRE(st);
    REQUIRE(st.services.size() == 1);
    CHECK(st.services[0].pid == pid);

    auto down = t->stop({"api"}, 10s);
    CHECK(down);
    CHECK_FALSE(alive(pid));
    auto again = t->stop({"api"}, 10s);
    CHECK(again.code == 1);  // not running, as `reins stop` says
    CHECK(again.kind == "not_running");
}

TEST_CASE("the outcomes the CLI gives: not found, port in use naming the holder, startup failure with output") {
    auto t = open_ok();
    auto missing = t->start({"nope"}, 5s);
    CHECK(missing.code == 1);
    CHECK(missing.kind == "not_found");

    HeldPort held;
    auto s = sh("web", "exec sleep 30");
    s.port = supervisor::PortSpec::fixed_port(held.port);
    REQUIRE(t->add(s));
    auto busy = t->start({"web"}, 10s);
    CHECK(busy.code == 2);
    CHECK(busy.kind == "port_in_use");
    CHECK(busy.message.find(std::to_string(held.port)) != std::string::npos);
    CHECK(busy.message.find("pid " + std::to_string(::getpid())) != std::string::npos);

    auto bad = sh("crash", "echo 'cannot open database'; exit 3");
    bad.ready.kind = supervisor::ProbeKind::none;
    bad.ready.after = std::chrono::milliseconds(500);
    bad.restart.mode = supervisor::RestartMode::no;
    REQUIRE(t->add(bad));
    auto failed = t->start({"crash"}, 10s);
    CHECK(failed.code == 3);
    CHECK(failed.service == "crash");
    bool has_line = false;
    for (const auto& l : failed.last_output) has_line = has_line || l.find("cannot open database") != std::string::npos;
    CHECK(has_line);
}

TEST_CASE("bad input changes nothing: duplicate names, a config with errors") {
    auto t = open_ok();
    REQUIRE(t->add(sh("api", "exec sleep 30")));
    auto dup = t->add(sh("api", "exec sleep 30"));
    CHECK(dup.code == 3);
    CHECK(dup.kind == "config");
    auto cfg = t->add_config_text("version = 1\n[service.web]\ncommand = 5\n");
    CHECK(cfg.code == 3);
    CHECK(cfg.kind == "config");
    CHECK(cfg.message.find("command") != std::string::npos);
    auto st = t->status();
    REQUIRE(st.services.size() == 1);  // still only api
    auto ok = t->add_config_text("version = 1\n[service.web]\ncommand = \"exec sleep 30\"\n");
    INFO(ok.message);
    CHECK(ok);
    CHECK(t->status().services.size() == 2);
}

TEST_CASE("calls from one thread apply in the order they were made") {
    auto t = open_ok();
    REQUIRE(t->add(sh("api", "exec sleep 30")));
    REQUIRE(t->start({"api"}, 10s));
    std::mutex mu;
    std::vector<std::string> order;
    auto note = [&](std::string what) {
        return [&, what](Outcome o) {
            std::lock_guard lock(mu);
            order.push_back(what + ":" + std::to_string(o.code));
        };
    };
    t->stop({"api"}, note("stop"));
    t->start({"api"}, note("start"));
    t->restart("api", note("restart"));
    t->stop({"api"}, note("stop"));
    for (int i = 0; i < 200; ++i) {
        {
            std::lock_guard lock(mu);
            if (order.size() == 4) break;
        }
        std::this_thread::sleep_for(50ms);
    }
    std::lock_guard lock(mu);
    REQUIRE(order.size() == 4);
    CHECK(order[0] == "stop:0");
    CHECK(order[1] == "start:0");
    CHECK(order[2] == "restart:0");
    CHECK(order[3] == "stop:0");
    CHECK(t->status().services[0].state == ServiceState::stopped);
}

TEST_CASE("a stop cancels an earlier start still waiting for readiness") {
    auto t = open_ok();
    auto s = sh("slow", "exec sleep 30");
    s.ready.kind = supervisor::ProbeKind::exec;
    s.ready.target = "false";
    s.ready.timeout = std::chrono::milliseconds(20000);
    REQUIRE(t->add(s));
    std::atomic<int> start_code{-1};
    t->start({"slow"}, [&](Outcome o) { start_code = o.code; });
    std::this_thread::sleep_for(200ms);
    auto down = t->stop({"slow"}, 10s);
    CHECK(down.code == 0);
    for (int i = 0; i < 100 && start_code < 0; ++i) std::this_thread::sleep_for(20ms);
    CHECK(start_code == 3);
    CHECK(t->status().services[0].state == ServiceState::stopped);
}

TEST_CASE("callbacks: a blocking call inside one is refused, one that throws is contained") {
    std::atomic<int> inner_code{-1};
    std::atomic<int> seen{0};
    SupervisorThread* self = nullptr;
    SupervisorThread::Options o;
    o.on_event = [&](const HostEvent& e) {
        if (e.kind != HostEvent::Kind::transition) return;
        ++seen;
        if (e.transition.to == ServiceState::running && self) inner_code = self->status(1s).code;
        throw std::runtime_error("host bug");
    };
    auto t = open_ok(o);
    self = t.get();
    REQUIRE(t->add(sh("api", "exec sleep 30")));
    auto up = t->start({"api"}, 10s);
    CHECK(up);  // supervision went on
    CHECK(inner_code == 3);
    CHECK(t->callback_failures() >= 2);
    CHECK(t->stop({}, 10s));
    CHECK(seen >= 4);
}

TEST_CASE("a callback that blocks is reported, and supervision resumes after it") {
    std::atomic<bool> blocked{false};
    SupervisorThread::Options o;
    o.queue_events = true;
    o.on_event = [&](const HostEvent& e) {
        if (e.kind == HostEvent::Kind::transition && e.transition.to == ServiceState::running && !blocked.exchange(true))
            std::this_thread::sleep_for(1100ms);
    };
    auto t = open_ok(o);
    REQUIRE(t->add(sh("api", "exec sleep 30")));
    REQUIRE(t->start({"api"}, 10s));
    bool reported = false;
    for (const auto& e : t->take_events())
        reported = reported || (e.kind == HostEvent::Kind::note && e.text.find("held reins' thread") != std::string::npos);
    CHECK(reported);
    CHECK(t->restart("api", 10s));  // still supervising
    CHECK(t->stop({}, 10s));
}

TEST_CASE("with a state directory: one host per folder, state.json, no control socket unless asked") {
    char tmpl[] = "/tmp/reins-thread-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    const std::string dir = std::string(tmpl) + "/state";
    {
        SupervisorThread::Options o;
        o.state_dir = dir;
        o.lock_data = "window 7, port 8765";
        auto first = open_ok(o);
        REQUIRE(first->add(sh("api", "exec sleep 30")));
        REQUIRE(first->start({"api"}, 10s));
        CHECK(std::filesystem::exists(dir + "/state.json"));
        CHECK(std::filesystem::exists(dir + "/pids/api.pid"));
        CHECK_FALSE(std::filesystem::exists(dir + "/reins.sock"));

        Outcome busy;
        auto second = SupervisorThread::open(o, &busy);
        CHECK_FALSE(second);
        CHECK(busy.code == 3);
        CHECK(busy.kind == "busy");
        CHECK(busy.message.find("pid " + std::to_string(::getpid())) != std::string::npos);
        CHECK(busy.message.find("window 7, port 8765") != std::string::npos);
        CHECK(first->status().services[0].state == ServiceState::running);  // the first one is untouched
    }
    {
        SupervisorThread::Options o;
        o.state_dir = dir;
        o.control_socket = true;
        auto again = open_ok(o);  // the lock was released when the first was destroyed
        CHECK(std::filesystem::exists(dir + "/reins.sock"));
    }
    std::filesystem::remove_all(tmpl);
}

TEST_CASE("destroying the handle stops every service; calls after shutdown fail, never crash") {
    auto t = open_ok();
    REQUIRE(t->add(sh("a", "exec sleep 30")));
    REQUIRE(t->add(sh("b", "trap '' TERM; while :; do sleep 0.1; done")));
    REQUIRE(t->start({}, 10s));
    auto st = t->status();
    REQUIRE(st.services.size() == 2);
    int a = st.services[0].pid, b = st.services[1].pid;
    CHECK(alive(a));
    CHECK(alive(b));
    t->shutdown();  // b ignores SIGTERM: SIGKILL at its 2 s stop timeout
    CHECK_FALSE(alive(a));
    CHECK_FALSE(alive(b));
    CHECK(t->shut_down());
    auto late = t->start({"a"}, 1s);
    CHECK(late.code == 3);
    CHECK(late.kind == "shut_down");
    std::atomic<int> cb{-1};
    t->restart("a", [&](Outcome o) { cb = o.code; });
    CHECK(cb == 3);  // answered at once, on the caller's thread
    CHECK(t->status().code == 3);
    t.reset();
}

TEST_CASE("two host threads call in at once") {
    auto t = open_ok();
    for (int i = 0; i < 4; ++i) REQUIRE(t->add(sh("s" + std::to_string(i), "exec sleep 30")));
    std::atomic<int> failures{0};
    auto worker = [&](int first) {
        for (int round = 0; round < 5; ++round)
            for (int i = first; i < first + 2; ++i) {
                std::string n = "s" + std::to_string(i);
                if (!t->start({n}, 10s)) ++failures;
                if (!t->status(5s)) ++failures;
                if (!t->stop({n}, 10s)) ++failures;
            }
    };
    std::thread one(worker, 0), two(worker, 2);
    one.join();
    two.join();
    CHECK(failures == 0);
}

}  // TEST_SUITE
