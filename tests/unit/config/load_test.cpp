// Good configs load to exactly the ServiceSpecs they describe, with every
// default of docs/config.md applied.
#include <csignal>

#include "config_harness.hpp"
#include "reins/config/emit.hpp"

namespace {

using namespace std::chrono_literals;
using reins::config::Config;
using reins::supervisor::CommandSpec;
using reins::supervisor::Dependency;
using reins::supervisor::HttpAction;
using reins::supervisor::PortSpec;
using reins::supervisor::ProbeKind;
using reins::supervisor::RestartMode;
using reins::test::check_same;
using reins::test::defaults_for;
using reins::test::load_ok;
using reins::test::TempDir;

// docs/config.md's complete example, whole.
const char* kSpecExample = R"(version = 1

[supervisor]                     # optional
listen = "127.0.0.1:9090"
allow_remote = false

[defaults]
restart.policy = "on-failure"

[service.api]
command = "cargo run -- --port $PORT"
cwd = "backend"
env = { RUST_LOG = "info" }
env_file = ".env"
env_clear = false
port = "8000-8100"
port_env = "PM_SERVER_PORT"

[service.api.ready]
http = "/ready"
timeout = "30s"
interval = "10ms"
probe_timeout = "1s"

[service.api.health]
http = "/health"
interval = "5s"
timeout = "5s"
failures = 3

[service.api.restart]
policy = "on-failure"
success_codes = [0]
backoff = { initial = "100ms", max = "30s", multiplier = 2.0, jitter = 0.1 }
max = 5
window = "5m"

[service.api.stop]
pre = "POST /admin/checkpoint"
http = "POST /admin/shutdown"
signal = "TERM"
timeout = "10s"

[service.api.logs]
file = "logs/api.log"
max_size = "10MiB"
keep = 5

[service.web]
command = ["npx", "vite", "--port", "${PORT}", "--strictPort"]
port = "auto"
ready = { log = "ready in \\d+ ms" }
depends_on = ["api"]

[service.db]
command = ["redis-server", "--port", "${PORT}", "--supervised", "systemd"]
port = { prefer = 6379, range = "6379-6479" }
ready = { notify = true }
)";

}  // namespace

TEST_SUITE("load") {

TEST_CASE("the documented example loads to the ServiceSpecs it describes") {
    TempDir dir("config");
    dir.write(".env", "SECRET=abc\nRUST_LOG=warn\n");
    dir.write("backend/.keep", "");
    Config cfg = load_ok(dir, kSpecExample);
    CHECK(cfg.version == 1);
    CHECK(cfg.supervisor.listen == "127.0.0.1:9090");
    CHECK(cfg.supervisor.listen_host == "127.0.0.1");
    CHECK(cfg.supervisor.listen_port == 9090);
    REQUIRE(cfg.services.size() == 3);
    CHECK(cfg.services[0].name == "api");  // file order, not toml++'s sorted order
    CHECK(cfg.services[1].name == "web");
    CHECK(cfg.services[2].name == "db");

    auto api = defaults_for("api", dir.path);
    api.command = CommandSpec{std::string("cargo run -- --port $PORT")};
    api.cwd = dir / "backend";
    api.env = {{"RUST_LOG", "info"}, {"SECRET", "abc"}};  // env wins over env_file
    api.port = PortSpec::port_range(8000, 8100);
    api.port_env = "PM_SERVER_PORT";
    api.ready.kind = ProbeKind::http;
    api.ready.target = "/ready";
    api.ready.interval = reins::supervisor::Millis(10);  // ready.interval = "10ms" (the default is 1ms)
    api.health.kind = ProbeKind::http;
    api.health.target = "/health";
    api.stop.pre = HttpAction{"POST", "/admin/checkpoint"};
    api.stop.http = HttpAction{"POST", "/admin/shutdown"};
    check_same(cfg.services[0], api);

    auto web = defaults_for("web", dir.path);
    web.command = CommandSpec{std::vector<std::string>{"npx", "vite", "--port", "${PORT}", "--strictPort"}};
    web.port = PortSpec::any();
    web.ready.kind = ProbeKind::log;
    web.ready.target = "ready in \\d+ ms";
    web.depends_on = {Dependency{"api", Dependency::Condition::ready}};
    check_same(cfg.services[1], web);

    auto db = defaults_for("db", dir.path);
    db.command = CommandSpec{std::vector<std::string>{"redis-server", "--port", "${PORT}", "--supervised", "systemd"}};
    db.port = PortSpec::prefer_in(6379, 6379, 6479);
    db.ready.kind = ProbeKind::notify;
    check_same(cfg.services[2], db);
}

TEST_CASE("a service with only a command gets every default") {
    TempDir dir("config");
    Config cfg = load_ok(dir, "version = 1\n[service.x]\ncommand = \"./x\"\n");
    auto want = defaults_for("x", dir.path);
    want.command = CommandSpec{std::string("./x")};
    check_same(cfg.services.at(0), want);
    CHECK(want.restart.mode == RestartMode::on_failure);
    CHECK(want.stop.timeout == 10s);
    CHECK(want.logs.max_size == 10u * 1024 * 1024);
}

TEST_CASE("[defaults] merges key by key; tables such as env merge per key") {
    TempDir dir("config");
    Config cfg = load_ok(dir, R"(version = 1
[defaults]
env = { A = "1", B = "2" }
restart = { policy = "always", max = 9 }
stop.timeout = "3s"
ready = { tcp = true, timeout = "1m" }
port = "auto"
[service.a]
command = "a"
env = { B = "two", C = "3" }
restart.max = 2
[service.b]
command = "b"
ready.log = "up"
[service.c]
command = "c"
ready.tcp = false
stop.timeout = "1s"
)");
    const auto& a = cfg.services.at(0);
    CHECK(a.env == std::map<std::string, std::string>{{"A", "1"}, {"B", "two"}, {"C", "3"}});
    CHECK(a.restart.mode == RestartMode::always);  // from defaults
    CHECK(a.restart.max_restarts == 2);            // the service's own value wins
    CHECK(a.stop.timeout == 3s);
    CHECK(a.ready.kind == ProbeKind::tcp);
    CHECK(a.ready.timeout == 1min);
    CHECK(a.port == PortSpec::any());
    // A service's own readiness kind replaces the default kind (no "two kinds" error).
    const auto& b = cfg.services.at(1);
    CHECK(b.ready.kind == ProbeKind::log);
    CHECK(b.ready.timeout == 1min);
    // `tcp = false` turns the default probe off.
    const auto& c = cfg.services.at(2);
    CHECK(c.ready.kind == ProbeKind::none);
    CHECK(c.stop.timeout == 1s);
}

TEST_CASE("relative paths resolve against the config file's folder") {
    TempDir dir("config");
    dir.write("conf/env/dev.env", "FROM_FILE=1\n");
    dir.write("conf/app/.keep", "");
    auto r = reins::config::load_toml(R"(version = 1
[service.a]
command = "a"
cwd = "app"
env_file = "env/dev.env"
[service.b]
command = "b"
cwd = "/"
env_file = ["env/dev.env"]
env = { FROM_FILE = "overridden" }
)", dir / "conf/reins.toml");
    INFO(reins::test::dump(r.diagnostics));
    REQUIRE(r.ok());
    CHECK(r.diagnostics.empty());
    CHECK(r.config.dir == dir / "conf");
    CHECK(r.config.services[0].cwd == dir / "conf/app");
    CHECK(r.config.services[0].env.at("FROM_FILE") == "1");
    CHECK(r.config.services[1].cwd == "/");
    CHECK(r.config.services[1].env.at("FROM_FILE") == "overridden");
}

TEST_CASE("value forms: ports, signals, sizes, shorthands, dependencies") {
    TempDir dir("config");
    Config cfg = load_ok(dir, R"(version = 1
[service.a]
command = ["./a"]
port = 5173
host = "::1"
restart = "no"
stop = { signal = "SIGINT", timeout = "0", pre_exec = "sync" }
logs = { max_size = 1048576, keep = 0 }
[service.b]
command = "b"
port = "9000-9010"
stop.signal = 1
stop.hooks_when_unhealthy = true
logs.max_size = "1.5KB"
health = { watchdog = "10s" }
ready = { after = "1m30s" }
depends_on = { a = "started" }
[service.c]
command = "c"
health.exec = "curl -f localhost"
ready.http = "http://127.0.0.1:${PORT}/ready"
restart.success_codes = []
restart.backoff.multiplier = 3
)");
    const auto& a = cfg.services.at(0);
    CHECK(a.port == [] { auto p = PortSpec::fixed_port(5173); p.host = "::1"; return p; }());
    CHECK(a.host == "::1");
    CHECK(a.restart.mode == RestartMode::no);
    CHECK(a.stop.signal == SIGINT);
    CHECK(a.stop.timeout == 0ms);
    CHECK(a.stop.pre_exec == "sync");
    CHECK_FALSE(a.stop.hooks_when_unhealthy);
    CHECK(a.logs.max_size == 1048576u);
    CHECK(a.logs.keep == 0);
    const auto& b = cfg.services.at(1);
    CHECK(b.port == PortSpec::port_range(9000, 9010));
    CHECK(b.stop.signal == SIGHUP);
    CHECK(b.stop.hooks_when_unhealthy);
    CHECK(b.logs.max_size == 1500u);
    CHECK(b.health.kind == ProbeKind::watchdog);
    CHECK(b.health.watchdog == 10s);
    CHECK(b.ready.after == 90s);
    REQUIRE(b.depends_on.size() == 1);
    CHECK(b.depends_on[0].condition == Dependency::Condition::started);
    const auto& c = cfg.services.at(2);
    CHECK(c.health.kind == ProbeKind::exec);
    CHECK(c.ready.target == "http://127.0.0.1:${PORT}/ready");
    CHECK(c.restart.success_codes.empty());
    CHECK(c.restart.multiplier == 3.0);
}

TEST_CASE("a file without version is read as version 1, with a warning") {
    TempDir dir("config");
    auto r = reins::config::load_toml("[service.a]\ncommand = \"a\"\n", dir / "reins.toml");
    REQUIRE(r.ok());
    REQUIRE(r.diagnostics.size() == 1);
    CHECK(r.diagnostics[0].severity == reins::config::Severity::warning);
    CHECK(r.diagnostics[0].hint.find("version = 1") != std::string::npos);
    CHECK(r.config.version_missing);
    CHECK(r.config.format == reins::config::Format::toml);
}

TEST_CASE("the effective config printed by check loads back to the same config") {
    TempDir dir("config");
    dir.write(".env", "SECRET=\"a b\\n\"\n");
    dir.write("backend/.keep", "");
    for (const char* text : {kSpecExample, "version = 1\n[service.\"a.b\"]\ncommand = [\"x\", \"\\u0001\"]\nready.after = \"1s\"\n",
                             "version = 1\n[service.a]\ncommand = \"a\"\nstop.hooks_when_unhealthy = true\n"}) {
        Config first = load_ok(dir, text);
        std::string printed = reins::config::to_toml(reins::config::to_document(first, reins::config::EmitMode::effective));
        Config second = load_ok(dir, printed);
        REQUIRE(second.services.size() == first.services.size());
        for (std::size_t i = 0; i < first.services.size(); ++i) check_same(second.services[i], first.services[i]);
        CHECK(reins::config::to_toml(reins::config::to_document(second, reins::config::EmitMode::effective)) == printed);
    }
}

TEST_CASE("JSON output has the same keys and values as the TOML") {
    TempDir dir("config");
    Config cfg = load_ok(dir, "version = 1\n[service.a]\ncommand = \"say \\\"hi\\\"\"\nport = 80\n");
    std::string json = reins::config::to_json(reins::config::to_document(cfg, reins::config::EmitMode::effective));
    CHECK(json.find("\"command\": \"say \\\"hi\\\"\"") != std::string::npos);
    CHECK(json.find("\"port\": 80") != std::string::npos);
    CHECK(json.find("\"timeout\": \"30s\"") != std::string::npos);
    CHECK(json.find("\"multiplier\": 2.0") != std::string::npos);
}

TEST_CASE("load_file: missing file, Procfile by name, a directory") {
    TempDir dir("config");
    auto missing = reins::config::load_file(dir / "nope.toml");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.diagnostics[0].message.find("No such file") != std::string::npos);
    dir.write("Procfile.dev", "web: ./web\n");
    auto proc = reins::config::load_file(dir / "Procfile.dev");
    REQUIRE(proc.ok());
    CHECK(proc.config.format == reins::config::Format::procfile);
    auto folder = reins::config::load_file(dir.path);
    CHECK_FALSE(folder.ok());
    CHECK(reins::config::find_config(dir.path).empty());
    dir.write("Procfile", "web: ./web\n");
    CHECK(reins::config::find_config(dir.path) == dir / "Procfile");
    dir.write("reins.toml", "version = 1\n");
    CHECK(reins::config::find_config(dir.path) == dir / "reins.toml");
    auto as_result = reins::config::load_config(dir / "reins.toml");
    REQUIRE_FALSE(as_result);
    CHECK(as_result.error().context.find("no services") != std::string::npos);
}

}  // TEST_SUITE
