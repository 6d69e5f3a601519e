// Port allocation: spec parsing, fixed / range / auto / prefer against real
// sockets, and naming the holder of a busy port (this process, a child).
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "reins/async/line_reader.hpp"
#include "reins/async/process.hpp"
#include "reins/supervisor/port_allocator.hpp"

using namespace reins;
using namespace reins::supervisor;
using namespace reins::test;

namespace {

// A socket of the test's own, bound (and listening) on a loopback port.
struct Sock {
    int fd = -1;
    int port = 0;
    Sock() = default;
    Sock(Sock&& o) noexcept : fd(std::exchange(o.fd, -1)), port(o.port) {}
    Sock& operator=(Sock&&) = delete;
    ~Sock() { release(); }
    void release() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
};

// Holds `port` (0: ephemeral) on 127.0.0.1 or ::1; nullopt if it cannot.
std::optional<Sock> hold(int port, bool ipv6 = false, bool listen = true, bool reuse = true) {
    Sock s;
    s.fd = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s.fd < 0) return std::nullopt;
    int one = 1;
    if (reuse) ::setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (ipv6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons(port);
        len = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = htons(port);
        len = sizeof *a;
    }
    if (::bind(s.fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) return std::nullopt;
    if (listen && ::listen(s.fd, 8) != 0) return std::nullopt;
    ::getsockname(s.fd, reinterpret_cast<sockaddr*>(&ss), &len);
    s.port = ntohs(ipv6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                        : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    return s;
}

// `n` consecutive ports held by this test, below the kernel's ephemeral
// range (outgoing connections do not land there) at a random base.
std::vector<Sock> hold_run(int n) {
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> base_of(20000, 29000);
    for (int attempt = 0; attempt < 200; ++attempt) {
        int base = base_of(rng);
        std::vector<Sock> run;
        for (int i = 0; i < n; ++i) {
            auto s = hold(base + i);
            if (!s) break;
            run.push_back(std::move(*s));
        }
        if (static_cast<int>(run.size()) == n) return run;
    }
    return {};
}

// A port that was free a moment ago (held, then released).
int free_port() {
    auto s = hold(0);
    REQUIRE(s.has_value());
    return s->port;
}

bool has_ipv6_loopback() { return hold(0, true).has_value(); }

std::string pid_text(int pid) { return "pid " + std::to_string(pid) + " ("; }

// SIGKILLs a new-session child's group when the test ends, even on failure.
struct GroupGuard {
    int pgid = 0;
    ~GroupGuard() {
        if (pgid > 1) ::kill(-pgid, SIGKILL);
    }
};

}  // namespace

TEST_SUITE("port_allocator") {
    TEST_CASE("parse_port_spec: the string forms") {
        auto a = parse_port_spec("auto");
        REQUIRE(a.has_value());
        CHECK(*a == PortSpec::any());
        CHECK(a->host == "127.0.0.1");
        auto f = parse_port_spec("5173");
        REQUIRE(f.has_value());
        CHECK(*f == PortSpec::fixed_port(5173));
        CHECK(parse_port_spec("1")->port == 1);
        CHECK(parse_port_spec("65535")->port == 65535);
        auto r = parse_port_spec("8000-8100");
        REQUIRE(r.has_value());
        CHECK(*r == PortSpec::port_range(8000, 8100));
        CHECK(*parse_port_spec("7-7") == PortSpec::port_range(7, 7));
        for (const char* t : {"auto", "5173", "8000-8100"}) CHECK(to_string(*parse_port_spec(t)) == t);
        CHECK(to_string(PortSpec::prefer_in(6379, 6379, 6479)) == "6379 in 6379-6479");
        CHECK(to_string(PortSpec{}) == "none");
    }

    TEST_CASE("parse_port_spec: bad forms say what was expected") {
        auto e = parse_port_spec("80000");
        REQUIRE_FALSE(e.has_value());
        CHECK(e.error().is(Errc::config));
        CHECK(e.error().context == "port \"80000\": expected a number 1-65535, a range A-B, or auto");
        for (const char* t : {"", "0", "-", "abc", "80-", "-80", "5173 ", " 5173", "+80", "Auto", "1-2-3",
                              "0x50", "8000-90000", "000005173", "12.5"}) {
            CAPTURE(t);
            auto r = parse_port_spec(t);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().is(Errc::config));
            CHECK(r.error().context.find("expected") != std::string::npos);
        }
        auto rev = parse_port_spec("8100-8000");
        REQUIRE_FALSE(rev.has_value());
        CHECK(rev.error().context == "port \"8100-8000\": expected a range A-B with A <= B");
    }

    TEST_CASE("invalid specs and Kind::none") {
        CHECK(*allocate_port(PortSpec{}) == 0);
        for (const PortSpec& s : {PortSpec::fixed_port(0), PortSpec::fixed_port(70000),
                                  PortSpec::port_range(10, 5), PortSpec::prefer_in(70000, 1, 2)}) {
            auto r = allocate_port(s);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().is(Errc::config));
        }
    }

    TEST_CASE("fixed: a free port is given, and can then be bound") {
        int p = free_port();
        auto r = allocate_port(PortSpec::fixed_port(p));
        REQUIRE(r.has_value());
        CHECK(*r == p);
        CHECK(port_is_free("127.0.0.1", p));
        CHECK(hold(p).has_value());  // the allocator kept nothing open
        CHECK_FALSE(find_port_holder(p).has_value());
    }

    TEST_CASE("fixed: a port this process holds names our pid and command") {
        auto s = hold(0);
        REQUIRE(s.has_value());
        auto r = allocate_port(PortSpec::fixed_port(s->port));
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == PortErrc::in_use);
        CHECK(r.error().code.category().name() == std::string("reins.port"));
        const std::string& ctx = r.error().context;
        CHECK(ctx.rfind("port " + std::to_string(s->port) + " is in use by " + pid_text(::getpid()), 0) == 0);
        CHECK(ctx.find("test-supervisor") != std::string::npos);
        CHECK(ctx.back() == ')');
        CHECK(r.error().message() == ctx + ": address already in use");
        auto h = find_port_holder(s->port);
        REQUIRE(h.has_value());
        CHECK(h->pid == ::getpid());
        CHECK(h->command.rfind("test-supervisor", 0) == 0);  // argv[0] without its directory
        CHECK(h->command.size() <= 103);
        CHECK_FALSE(port_is_free("127.0.0.1", s->port));
    }

    TEST_CASE("fixed: a bound socket that does not listen still blocks") {
        // No SO_REUSEADDR and no listen(): a server's bind conflicts with it,
        // but such a socket is in none of the tables of /proc/net.
        auto s = hold(0, false, false, false);
        REQUIRE(s.has_value());
        auto r = allocate_port(PortSpec::fixed_port(s->port));
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == PortErrc::in_use);
        CHECK(r.error().context == "port " + std::to_string(s->port) + " is in use (holder not found)");
        CHECK_FALSE(find_port_holder(s->port).has_value());
    }

    TEST_CASE("fixed: a port held by a child process names the child") {
        if (!std::getenv("REINS_FIXTURE")) {
            MESSAGE("REINS_FIXTURE is not set: skipped");
            return;
        }
        run_test([](std::stop_token stop) -> Task<void> {
            auto port = allocate_port(PortSpec::any());
            CHECK(port.has_value());
            if (!port) co_return;
            ProcessOptions o;
            o.argv = {std::getenv("REINS_FIXTURE"), "--port", std::to_string(*port)};
            o.err = Stdio::inherit;
            auto p = Process::spawn(std::move(o));
            CHECK_MESSAGE(p.has_value(), (p ? std::string() : p.error().message()));
            if (!p) co_return;
            GroupGuard guard{p->pid()};
            Stream out = p->take_stdout();
            LineReader reader(out);
            auto line = co_await reader.next(stop);
            CHECK(line.has_value());
            if (!line) co_return;
            CHECK(line->text == "fixture: listening on 127.0.0.1:" + std::to_string(*port));

            auto r = allocate_port(PortSpec::fixed_port(*port));
            CHECK_FALSE(r.has_value());
            if (r) co_return;
            CHECK(r.error().code == PortErrc::in_use);
            MESSAGE(r.error().context);
            CHECK(r.error().context.find(pid_text(p->pid())) != std::string::npos);
            CHECK(r.error().context.find("--port " + std::to_string(*port)) != std::string::npos);
            auto h = find_port_holder(*port);
            CHECK(h.has_value());
            if (h) CHECK(h->pid == p->pid());

            CHECK(p->signal(SIGKILL).has_value());
            auto st = co_await p->wait(stop);
            CHECK(st.has_value());
            guard.pgid = 0;  // reaped: the group is gone
            // The port is free again once its holder is gone (docs/config.md, `port`).
            CHECK(port_is_free("127.0.0.1", *port));
            CHECK_FALSE(find_port_holder(*port).has_value());
        });
    }

    TEST_CASE("range: the first free port, skipping busy ones") {
        auto run = hold_run(4);
        REQUIRE(run.size() == 4);
        int a = run[0].port;
        run[2].release();
        auto r = allocate_port(PortSpec::port_range(a, a + 3));
        REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message()));
        CHECK(*r == a + 2);
        run[0].release();
        CHECK(*allocate_port(PortSpec::port_range(a, a + 3)) == a);
    }

    TEST_CASE("range: all busy is in_use, naming the range and the holder of its first port") {
        auto run = hold_run(3);
        REQUIRE(run.size() == 3);
        int a = run[0].port;
        auto r = allocate_port(PortSpec::port_range(a, a + 2));
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == PortErrc::in_use);
        CHECK(r.error().context.rfind("no free port in ports " + std::to_string(a) + "-" + std::to_string(a + 2) +
                                          " on 127.0.0.1: port " + std::to_string(a) + " is in use by " +
                                          pid_text(::getpid()),
                                      0) == 0);
    }

    TEST_CASE("auto: a port the kernel assigns, bindable afterwards") {
        for (int i = 0; i < 3; ++i) {
            auto r = allocate_port(PortSpec::any());
            REQUIRE(r.has_value());
            CHECK(*r >= 1);
            CHECK(*r <= 65535);
            CHECK(hold(*r).has_value());
        }
    }

    TEST_CASE("prefer: P when free, else the first free port of the range") {
        auto run = hold_run(4);
        REQUIRE(run.size() == 4);
        int a = run[0].port;
        run[3].release();
        run[2].release();
        // Free: P, even though a lower port of the range is free too.
        CHECK(*allocate_port(PortSpec::prefer_in(a + 3, a, a + 3)) == a + 3);
        // Busy: the first free of the range.
        CHECK(*allocate_port(PortSpec::prefer_in(a, a, a + 3)) == a + 2);
        // P outside the range is tried first all the same.
        CHECK(*allocate_port(PortSpec::prefer_in(a + 3, a, a + 2)) == a + 3);
        CHECK(*allocate_port(PortSpec::prefer_in(a + 1, a + 2, a + 3)) == a + 2);
        auto busy = hold(a + 2);
        REQUIRE(busy.has_value());
        auto none = allocate_port(PortSpec::prefer_in(a + 1, a, a + 2));
        REQUIRE_FALSE(none.has_value());
        CHECK(none.error().code == PortErrc::in_use);
        // The preferred port is the first tried: its holder is named.
        CHECK(none.error().context.find(": port " + std::to_string(a + 1) + " is in use by " + pid_text(::getpid())) !=
              std::string::npos);
        auto outside = allocate_port(PortSpec::prefer_in(a + 1, a + 2, a + 2));
        REQUIRE_FALSE(outside.has_value());
        CHECK(outside.error().code == PortErrc::in_use);
        CHECK(outside.error().context.rfind("no free port in port " + std::to_string(a + 1) + " and ports", 0) == 0);
    }

    TEST_CASE("an address that is not on this machine is a bind error, not a busy port") {
        int p = free_port();
        PortSpec s = PortSpec::fixed_port(p);
        s.host = "192.0.2.1";  // TEST-NET-1: never a local address
        auto r = allocate_port(s);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == std::errc::address_not_available);
        CHECK(r.error().context == "bind 192.0.2.1:" + std::to_string(p));
        PortSpec range = PortSpec::port_range(p, p + 1);
        range.host = s.host;
        auto rr = allocate_port(range);
        REQUIRE_FALSE(rr.has_value());
        CHECK(rr.error().code == std::errc::address_not_available);
        CHECK_FALSE(port_is_free(s.host, p));
    }

    TEST_CASE("IPv6: ::1 and localhost") {
        if (!has_ipv6_loopback()) {
            MESSAGE("no IPv6 loopback on this machine: skipped");
            return;
        }
        auto s6 = hold(0, true);
        REQUIRE(s6.has_value());
        int p = s6->port;
        PortSpec on6 = PortSpec::fixed_port(p);
        on6.host = "::1";
        auto r = allocate_port(on6);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == PortErrc::in_use);
        CHECK(r.error().context.find(pid_text(::getpid())) != std::string::npos);  // from /proc/net/tcp6
        PortSpec local = on6;
        local.host = "localhost";
        CHECK(allocate_port(local).error().code == PortErrc::in_use);
        PortSpec bracketed = on6;
        bracketed.host = "[::1]";
        CHECK(allocate_port(bracketed).error().code == PortErrc::in_use);
        // An IPv6 holder does not block 127.0.0.1.
        if (port_is_free("127.0.0.1", p)) CHECK(*allocate_port(PortSpec::fixed_port(p)) == p);
        s6->release();
        CHECK(*allocate_port(on6) == p);
        PortSpec auto6 = PortSpec::any();
        auto6.host = "::1";
        auto a = allocate_port(auto6);
        REQUIRE(a.has_value());
        CHECK(hold(*a, true).has_value());
    }
}
