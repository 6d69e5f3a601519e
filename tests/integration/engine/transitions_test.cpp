// The state machine's edges as subscribers see them, sticky ports, and
// dependencies that wait only for a spawn ("started").
#include <set>
#include <utility>

#include "engine_harness.hpp"

using namespace reins;
using namespace reins::test;
using namespace std::chrono_literals;

namespace {

using Edge = std::pair<ServiceState, ServiceState>;
using S = ServiceState;

// The state diagram's edges, plus a stop that arrives while starting or
// during the restart backoff, and a start that can never spawn (a port in
// use, an invalid setting) failing at once.
const std::set<Edge>& allowed_edges() {
    static const std::set<Edge> edges{
        {S::stopped, S::starting},    {S::starting, S::running},     {S::running, S::stopping},
        {S::stopping, S::stopped},    {S::starting, S::restarting},  {S::running, S::restarting},
        {S::restarting, S::starting}, {S::restarting, S::failed},    {S::failed, S::starting},
        {S::starting, S::stopping},   {S::restarting, S::stopped},   {S::starting, S::failed},
    };
    return edges;
}

std::vector<Edge> edges_of(const EventLog& log, const std::string& name) {
    std::vector<Edge> out;
    for (const auto& e : log.events)
        if (e.service == name && e.from != e.to) out.emplace_back(e.from, e.to);
    return out;
}

std::string describe(const std::vector<Edge>& edges) {
    std::string s;
    for (const auto& [from, to] : edges) s += std::string(to_string(from)) + "→" + std::string(to_string(to)) + " ";
    return s;
}

Task<void> restart_keeps_port(Supervisor& sv, int* before, int* after, int* stopped_port) {
    std::vector<std::string> which{"api"};
    auto r = co_await sv.start(which);
    CHECK_MESSAGE(r.has_value(), why(r));
    *before = sv.find("api")->status().port;
    auto rr = co_await sv.restart("api");
    CHECK_MESSAGE(rr.has_value(), why(rr));
    *after = sv.find("api")->status().port;
    auto s = co_await sv.stop(which);
    CHECK_MESSAGE(s.has_value(), why(s));
    *stopped_port = sv.find("api")->status().port;
}

Task<void> crash_keeps_port(Supervisor& sv, int* first, int* second) {
    std::vector<std::string> which{"api"};
    auto r = co_await sv.start(which);
    CHECK_MESSAGE(r.has_value(), why(r));
    *first = sv.find("api")->status().port;
    // It crashes after 300 ms; the policy restarts it.
    for (int i = 0; i < 300 && sv.find("api")->status().restarts == 0; ++i) (void)co_await sleep(10ms);
    for (int i = 0; i < 300 && sv.find("api")->status().state != S::running; ++i) (void)co_await sleep(10ms);
    *second = sv.find("api")->status().port;
}

Task<void> walk_the_diagram(Supervisor& sv) {
    std::vector<std::string> which{"job"};
    // Runs, crashes until the circuit opens (starting/running → restarting → ... → failed).
    auto r = co_await sv.start(which);
    (void)r;
    for (int i = 0; i < 500 && sv.find("job")->status().state != S::failed; ++i) (void)co_await sleep(10ms);
    CHECK(sv.find("job")->status().state == S::failed);
    // failed → starting by a manual restart, then a stop of the running service.
    auto rr = co_await sv.restart("job");
    (void)rr;
    auto s = co_await sv.stop(which);
    (void)s;
}

Task<void> start_all(Supervisor& sv) {
    auto r = co_await sv.start();
    CHECK_MESSAGE(r.has_value(), why(r));
}

}  // namespace

TEST_SUITE("transitions") {
    TEST_CASE("a restart passes through stopped and keeps an auto port; a stopped service shows none") {
        Supervisor sup;
        EventLog log(sup);
        auto s = spec("api", fixture_cmd({}));
        s.port = PortSpec::any();
        s.ready.kind = ProbeKind::tcp;
        REQUIRE(sup.add(s));
        int before = 0, after = 0, stopped_port = -1;
        run_engine(sup, [&](Supervisor& sv, std::stop_token) { return restart_keeps_port(sv, &before, &after, &stopped_port); });
        CHECK(before > 0);
        CHECK(after == before);
        CHECK(stopped_port == 0);
        auto edges = edges_of(log, "api");
        std::vector<Edge> expected{{S::stopped, S::starting},  {S::starting, S::running}, {S::running, S::stopping},
                                   {S::stopping, S::stopped},  {S::stopped, S::starting}, {S::starting, S::running},
                                   {S::running, S::stopping},  {S::stopping, S::stopped}};
        CHECK_MESSAGE(edges == expected, describe(edges));
    }

    TEST_CASE("a crash restarts the service on the port it had") {
        Supervisor sup;
        EventLog log(sup);
        auto s = spec("api", fixture_cmd({"--crash-after", "300ms", "--exit-code", "3"}));
        s.port = PortSpec::port_range(20000, 60000);
        s.ready.kind = ProbeKind::tcp;
        REQUIRE(sup.add(s));
        int first = 0, second = 0;
        run_engine(sup, [&](Supervisor& sv, std::stop_token) { return crash_keeps_port(sv, &first, &second); });
        CHECK(first > 0);
        CHECK(second == first);
        auto edges = edges_of(log, "api");
        REQUIRE(edges.size() >= 4);
        CHECK(edges[2] == Edge{S::running, S::restarting});
        CHECK(edges[3] == Edge{S::restarting, S::starting});
    }

    TEST_CASE("every transition subscribers see is an edge of the state diagram") {
        Supervisor sup;
        EventLog log(sup);
        // Exits 1 after 50 ms: running → restarting → starting ... → failed.
        auto s = spec("job", fixture_cmd({"--no-listen", "--crash-after", "50ms"}));
        s.restart.max_restarts = 2;
        REQUIRE(sup.add(s));
        run_engine(sup, [](Supervisor& sv, std::stop_token) { return walk_the_diagram(sv); });
        auto edges = edges_of(log, "job");
        for (const auto& e : edges) CHECK_MESSAGE(allowed_edges().count(e), describe({e}) << " in " << describe(edges));
        std::set<Edge> seen(edges.begin(), edges.end());
        for (Edge e : {Edge{S::stopped, S::starting}, Edge{S::starting, S::running}, Edge{S::running, S::restarting},
                       Edge{S::restarting, S::starting}, Edge{S::restarting, S::failed}, Edge{S::failed, S::starting}})
            CHECK_MESSAGE(seen.count(e), describe({e}) << " missing from " << describe(edges));
    }

    TEST_CASE("a dependency on \"started\" waits for the spawn only, \"ready\" for readiness") {
        Supervisor sup;
        EventLog log(sup);
        auto api = spec("api", fixture_cmd({"--ready-after", "600ms"}));
        api.port = PortSpec::any();
        api.ready.kind = ProbeKind::http;
        api.ready.target = "/ready";
        auto web = spec("web", fixture_cmd({"--no-listen"}));
        web.depends_on = {{"api", Dependency::Condition::started}};
        auto worker = spec("worker", fixture_cmd({"--no-listen"}));
        worker.depends_on = {{"api", Dependency::Condition::ready}};
        std::vector<ServiceSpec> all{web, worker, api};
        REQUIRE(sup.add(std::move(all)));
        run_engine(sup, [](Supervisor& sv, std::stop_token) { return start_all(sv); });
        auto first = [&](const char* n, ServiceState st) {
            auto ev = log.of(n, st);
            REQUIRE(!ev.empty());
            return ev.front().time;
        };
        CHECK(first("web", S::starting) < first("api", S::running));
        CHECK(first("web", S::starting) >= first("api", S::starting));
        CHECK(first("worker", S::starting) >= first("api", S::running));
    }
}
