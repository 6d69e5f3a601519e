// Bad configs, one table row each: the exact key path, line and column of
// the error, and a fragment of what it says (docs/config.md, Errors: the errors are the
// product).
#include "config_harness.hpp"

namespace {

using reins::test::dump;
using reins::test::TempDir;

struct Bad {
    const char* name;
    const char* toml;
    const char* key;
    int line;
    int column;
    const char* fragment;  ///< in "message — hint"
};

const Bad kBad[] = {
    // --- unknown keys, with the closest known key ---
    {"unknown service key", "version = 1\n[service.api]\ncommand = \"x\"\nrestarts = 3\n",
     "service.api.restarts", 4, 1, "unknown key 'restarts' in [service.api] — did you mean 'restart'?"},
    {"unknown ready key", "version = 1\n[service.api]\ncommand = \"x\"\n[service.api.ready]\ntimout = \"1s\"\n",
     "service.api.ready.timout", 5, 1, "did you mean 'timeout'?"},
    {"unknown top-level key", "version = 1\n[services.api]\ncommand = \"x\"\n",
     "services", 2, 2, "unknown key 'services' at the top level — did you mean 'service'?"},
    {"unknown supervisor key", "version = 1\n[supervisor]\nlisten_addr = \"127.0.0.1:9\"\n[service.a]\ncommand = \"x\"\n",
     "supervisor.listen_addr", 3, 1, "did you mean 'listen'?"},
    {"key of another table", "version = 1\n[service.api]\ncommand = \"x\"\npolicy = \"always\"\n",
     "service.api.policy", 4, 1, "did you mean 'restart.policy'?"},
    {"unknown key lists the known ones", "version = 1\n[service.api]\ncommand = \"x\"\n[service.api.logs]\nzzz = 1\n",
     "service.api.logs.zzz", 5, 1, "known keys: file, max_size, keep"},
    {"unknown key in defaults", "version = 1\n[defaults]\ncomand = \"x\"\n[service.a]\ncommand = \"x\"\n",
     "defaults.comand", 3, 1, "did you mean 'command'?"},
    // --- commands ---
    {"command of the wrong type", "version = 1\n[service.api]\ncommand = 5\n",
     "service.api.command", 3, 11, "expected a command string (run by /bin/sh -c) or a non-empty array of strings, found integer 5"},
    {"empty command array", "version = 1\n[service.api]\ncommand = []\n",
     "service.api.command", 3, 11, "found an empty array"},
    {"non-string argv element", "version = 1\n[service.api]\ncommand = [\"a\", 1]\n",
     "service.api.command[1]", 3, 17, "expected a string, found integer 1"},
    {"empty command string", "version = 1\n[service.api]\ncommand = \"  \"\n",
     "service.api.command", 3, 11, "expected a non-empty string"},
    {"missing command", "version = 1\n\n[service.api]\nport = 8000\n",
     "service.api.command", 3, 1, "missing key 'command' in [service.api]"},
    // --- durations and sizes ---
    {"duration in words", "version = 1\n[service.api]\ncommand = \"x\"\nstop.timeout = \"5 seconds\"\n",
     "service.api.stop.timeout", 4, 16, "found \"5 seconds\"; did you mean \"5s\"?"},
    {"negative duration", "version = 1\n[service.api]\ncommand = \"x\"\n[service.api.ready]\ntimeout = \"-1s\"\n",
     "service.api.ready.timeout", 5, 11, "a duration cannot be negative"},
    {"duration without quotes", "version = 1\n[service.api]\ncommand = \"x\"\nready.timeout = 30\n",
     "service.api.ready.timeout", 4, 17, "found integer 30 — durations are strings with a unit: \"30s\""},
    {"duration without unit", "version = 1\n[service.api]\ncommand = \"x\"\nrestart.window = \"300\"\n",
     "service.api.restart.window", 4, 18, "a duration needs a unit"},
    {"sub-millisecond duration", "version = 1\n[service.api]\ncommand = \"x\"\nready.interval = \"1.5ms\"\n",
     "service.api.ready.interval", 4, 18, "millisecond resolution"},
    {"zero interval", "version = 1\n[service.api]\ncommand = \"x\"\nready.interval = \"0ms\"\n",
     "service.api.ready.interval", 4, 18, "expected a duration of at least 1ms"},
    {"unknown size unit", "version = 1\n[service.api]\ncommand = \"x\"\nlogs.max_size = \"10XB\"\n",
     "service.api.logs.max_size", 4, 17, "found \"10XB\"; unknown unit 'XB'"},
    {"negative size", "version = 1\n[service.api]\ncommand = \"x\"\nlogs.max_size = -5\n",
     "service.api.logs.max_size", 4, 17, "found integer -5"},
    {"zero size", "version = 1\n[service.api]\ncommand = \"x\"\nlogs.max_size = \"0KiB\"\n",
     "service.api.logs.max_size", 4, 17, "at least 1"},
    // --- numbers out of range ---
    {"logs.keep too big", "version = 1\n[service.api]\ncommand = \"x\"\nlogs.keep = 5000\n",
     "service.api.logs.keep", 4, 13, "expected an integer from 0 to 1000, found 5000"},
    {"health.failures zero", "version = 1\n[service.api]\ncommand = \"x\"\nhealth.failures = 0\n",
     "service.api.health.failures", 4, 19, "from 1 to 1000, found 0"},
    {"negative restart.max", "version = 1\n[service.api]\ncommand = \"x\"\nrestart.max = -1\n",
     "service.api.restart.max", 4, 15, "expected an integer 0 or more, found -1"},
    {"jitter above 1", "version = 1\n[service.api]\ncommand = \"x\"\nrestart.backoff = { jitter = 1.5 }\n",
     "service.api.restart.backoff.jitter", 4, 30, "expected a number from 0 to 1, found float 1.5"},
    {"multiplier below 1", "version = 1\n[service.api]\ncommand = \"x\"\n[service.api.restart.backoff]\nmultiplier = 0.5\n",
     "service.api.restart.backoff.multiplier", 5, 14, "from 1 to 100"},
    {"backoff max below initial", "version = 1\n[service.api]\ncommand = \"x\"\n[service.api.restart.backoff]\ninitial = \"10s\"\nmax = \"1s\"\n",
     "service.api.restart.backoff.max", 6, 7, "the backoff's max (1s) is below its initial delay (10s)"},
    {"exit code above 255", "version = 1\n[service.api]\ncommand = \"x\"\nrestart.success_codes = [0, 300]\n",
     "service.api.restart.success_codes[1]", 4, 29, "from 0 to 255, found 300"},
    {"port out of range", "version = 1\n[service.api]\ncommand = \"x\"\nport = 80000\n",
     "service.api.port", 4, 8, "expected an integer from 1 to 65535, found 80000"},
    {"port text", "version = 1\n[service.api]\ncommand = \"x\"\nport = \"80-\"\n",
     "service.api.port", 4, 8, "expected a port 1-65535, a range like \"8000-8100\""},
    {"prefer without range", "version = 1\n[service.api]\ncommand = \"x\"\nport = { prefer = 6379 }\n",
     "service.api.port.range", 4, 19, "`prefer` needs a `range`"},
    // --- probes ---
    {"two readiness kinds", "version = 1\n[service.api]\ncommand = \"x\"\nport = 1\nready = { http = \"/r\", tcp = true }\n",
     "service.api.ready.tcp", 5, 24, "at most one readiness probe of http, tcp, notify, log and exec can be set; found http and tcp"},
    {"two health kinds", "version = 1\n[service.api]\ncommand = \"x\"\nport = 1\n[service.api.health]\nhttp = \"/h\"\nexec = \"true\"\n",
     "service.api.health.exec", 7, 1, "found http and exec"},
    {"tcp probe without a port", "version = 1\n[service.api]\ncommand = \"x\"\nready.tcp = true\n",
     "service.api.ready.tcp", 4, 7, "a tcp probe needs the service's port"},
    {"https probe", "version = 1\n[service.api]\ncommand = \"x\"\nready.http = \"https://127.0.0.1/r\"\n",
     "service.api.ready.http", 4, 14, "no https"},
    {"bad readiness regex", "version = 1\n[service.api]\ncommand = \"x\"\nready.log = \"(ready\"\n",
     "service.api.ready.log", 4, 13, "expected a regex in RE2 syntax, found \"(ready\": missing ): (ready"},
    {"after with a probe", "version = 1\n[service.api]\ncommand = \"x\"\nready = { exec = \"true\", after = \"1s\" }\n",
     "service.api.ready.after", 4, 26, "`after` applies only to a service without a readiness probe"},
    {"watchdog of zero", "version = 1\n[service.api]\ncommand = \"x\"\nhealth.watchdog = \"0s\"\n",
     "service.api.health.watchdog", 4, 19, "at least 1ms"},
    // --- dependencies ---
    {"unknown dependency", "version = 1\n[service.api]\ncommand = \"x\"\n[service.web]\ncommand = \"x\"\ndepends_on = [\"apj\"]\n",
     "service.web.depends_on[0]", 6, 15, "depends on \"apj\", which is not a service — did you mean 'api'?"},
    {"dependency cycle", "version = 1\n[service.web]\ncommand = \"x\"\ndepends_on = [\"api\"]\n[service.api]\ncommand = \"x\"\ndepends_on = [\"web\"]\n",
     "service.web.depends_on[0]", 4, 15, "dependency cycle: web → api → web"},
    {"self dependency", "version = 1\n[service.api]\ncommand = \"x\"\ndepends_on = { api = \"started\" }\n",
     "service.api.depends_on.api", 4, 16, "dependency cycle: api → api"},
    {"bad dependency condition", "version = 1\n[service.db]\ncommand = \"x\"\n[service.api]\ncommand = \"x\"\ndepends_on = { db = \"healthy\" }\n",
     "service.api.depends_on.db", 6, 21, "expected \"ready\" or \"started\", found string \"healthy\""},
    {"dependency listed twice", "version = 1\n[service.db]\ncommand = \"x\"\n[service.api]\ncommand = \"x\"\ndepends_on = [\"db\", \"db\"]\n",
     "service.api.depends_on[1]", 6, 21, "\"db\" is listed twice"},
    // --- env ---
    {"port_env without port", "version = 1\n[service.api]\ncommand = \"x\"\nport_env = \"APP_PORT\"\n",
     "service.api.port_env", 4, 1, "the service has no port"},
    {"port_env not a name", "version = 1\n[service.api]\ncommand = \"x\"\nport = 1\nport_env = \"MY-PORT\"\n",
     "service.api.port_env", 5, 12, "expected a variable name"},
    {"env value array", "version = 1\n[service.api]\ncommand = \"x\"\nenv = { A = [1] }\n",
     "service.api.env.A", 4, 13, "expected a string (or an integer or boolean, exported as text), found an array"},
    {"env bad name", "version = 1\n[service.api]\ncommand = \"x\"\nenv = { \"1BAD\" = \"x\" }\n",
     "service.api.env.1BAD", 4, 9, "expected a variable name"},
    {"missing env_file", "version = 1\n[service.api]\ncommand = \"x\"\nenv_file = \"missing.env\"\n",
     "service.api.env_file", 4, 12, "cannot read"},
    {"env_clear not a boolean", "version = 1\n[service.api]\ncommand = \"x\"\nenv_clear = \"yes\"\n",
     "service.api.env_clear", 4, 13, "expected true or false, found string \"yes\""},
    {"host with a space", "version = 1\n[service.api]\ncommand = \"x\"\nhost = \"local host\"\n",
     "service.api.host", 4, 8, "expected a host name or address"},
    // --- restart and stop ---
    {"restart policy never", "version = 1\n[service.api]\ncommand = \"x\"\nrestart.policy = \"never\"\n",
     "service.api.restart.policy", 4, 18, "expected one of \"no\", \"on-failure\", \"always\", found \"never\" — did you mean \"no\"?"},
    {"restart of the wrong type", "version = 1\n[service.api]\ncommand = \"x\"\nrestart = 3\n",
     "service.api.restart", 4, 11, "expected a table like { policy = \"on-failure\" }, or a policy string"},
    {"unknown stop signal", "version = 1\n[service.api]\ncommand = \"x\"\nstop.signal = \"TERMINATE\"\n",
     "service.api.stop.signal", 4, 15, "expected a signal name"},
    {"stop.pre and pre_exec", "version = 1\n[service.api]\ncommand = \"x\"\nport = 1\n[service.api.stop]\npre = \"/c\"\npre_exec = \"sync\"\n",
     "service.api.stop.pre_exec", 7, 1, "not both"},
    {"bad stop request", "version = 1\n[service.api]\ncommand = \"x\"\nport = 1\nstop.http = \"post /x\"\n",
     "service.api.stop.http", 5, 13, "expected a request like \"POST /admin/shutdown\""},
    // --- file level ---
    {"newer version", "version = 2\n[service.api]\ncommand = \"x\"\n",
     "version", 1, 11, "this file needs reins config version 2, and this reins reads versions 0 to 1"},
    {"version as a string", "version = \"1\"\n[service.api]\ncommand = \"x\"\n",
     "version", 1, 11, "expected an integer 0 or more, found string \"1\" — write 1 without quotes"},
    {"remote listen", "version = 1\n[supervisor]\nlisten = \"0.0.0.0:9090\"\n[service.a]\ncommand = \"x\"\n",
     "supervisor.listen", 3, 10, "0.0.0.0 is not a loopback address, and allow_remote is false"},
    {"listen without port", "version = 1\n[supervisor]\nlisten = \"9090\"\n[service.a]\ncommand = \"x\"\n",
     "supervisor.listen", 3, 10, "expected an address like \"127.0.0.1:9090\""},
    {"service not a table", "version = 1\n[service]\napi = \"x\"\n",
     "service.api", 3, 7, "expected a table like [service.api], found string \"x\""},
    {"bad service name", "version = 1\n[service.\"my api\"]\ncommand = \"x\"\n",
     "service.\"my api\"", 2, 10, "a service name is 1-64 letters"},
    {"no services", "version = 1\n[supervisor]\n",
     "service", 1, 1, "no services"},
    {"defaults value", "version = 1\n[defaults]\nrestart.max = -1\n[service.a]\ncommand = \"x\"\n[service.b]\ncommand = \"y\"\n",
     "defaults.restart.max", 3, 15, "defaults.restart.max: expected an integer 0 or more"},
    {"TOML syntax", "version = 1\n[service.api]\ncommand = \"x\nport = 1\n",
     "", 3, 13, "TOML syntax error"},
    {"TOML duplicate table", "version = 1\n[service.api]\ncommand = \"x\"\n[service.api]\ncommand = \"y\"\n",
     "", 4, 1, "TOML syntax error"},
    // --- legacy format ---
    {"legacy remote host", "command = \"./server\"\n[server]\nhost = \"0.0.0.0\"\n",
     "server.host", 3, 8, "the legacy format serves on loopback only"},
    {"legacy bad port_range", "command = \"./server\"\n[server]\nport_range = [9000, 8000]\n",
     "server.port_range", 3, 14, "two ports [A, B] with 1 <= A <= B <= 65535"},
    {"legacy unknown key", "command = \"./server\"\n[server]\n[resilience]\nmax_restart = 3\n",
     "resilience.max_restart", 4, 1, "did you mean 'max_restarts'?"},
    {"legacy without command", "version = 0\n[server]\nport = 8000\n",
     "command", 1, 1, "missing key 'command'"},
    {"legacy wrong type", "command = \"./server\"\n[server]\n[resilience]\nstartup_timeout_secs = \"30s\"\n",
     "resilience.startup_timeout_secs", 4, 24, "expected an integer from 1 to 86400, found string \"30s\""},
};

}  // namespace

TEST_SUITE("errors") {

TEST_CASE("every bad config reports its key path, line, column and what was wrong") {
    static_assert(sizeof(kBad) / sizeof(kBad[0]) >= 40);
    TempDir dir("config");
    for (const auto& b : kBad) {
        CAPTURE(b.name);
        auto r = reins::config::load_toml(b.toml, dir / "reins.toml");
        INFO(dump(r.diagnostics));
        CHECK_FALSE(r.ok());
        bool found = false;
        for (const auto& d : r.diagnostics) {
            if (!d.is_error()) continue;
            std::string text = d.message + (d.hint.empty() ? "" : " — " + d.hint);
            if (d.key == b.key && d.line == b.line && d.column == b.column && text.find(b.fragment) != std::string::npos)
                found = true;
        }
        CHECK_MESSAGE(found, "expected " << b.key << " at " << b.line << ":" << b.column << ": " << b.fragment);
        // Every error names its file and a position (except file-level ones).
        for (const auto& d : r.diagnostics) {
            CHECK(d.file == dir / "reins.toml");
            if (d.is_error() && d.key != "") CHECK(d.line > 0);
        }
    }
}

TEST_CASE("all the errors of a file come back in one pass, in file order") {
    TempDir dir("config");
    auto r = reins::config::load_toml(R"(version = 1
[service.api]
command = "x"
restarts = 3
stop.timeout = "5 seconds"
logs.max_size = "10XB"
depends_on = ["nope"]
[service.web]
command = 7
)", dir / "reins.toml");
    INFO(dump(r.diagnostics));
    REQUIRE(r.diagnostics.size() == 5);
    int last = 0;
    for (const auto& d : r.diagnostics) {
        CHECK(d.is_error());
        CHECK(d.line >= last);
        last = d.line;
    }
    CHECK(r.diagnostics[0].key == "service.api.restarts");
    CHECK(r.diagnostics[4].key == "service.web.command");
}

TEST_CASE("a bad [defaults] value is reported once, not once per service") {
    TempDir dir("config");
    auto r = reins::config::load_toml("version = 1\n[defaults]\nstop.timeout = \"soon\"\n"
                                      "[service.a]\ncommand = \"a\"\n[service.b]\ncommand = \"b\"\n[service.c]\ncommand = \"c\"\n",
                                      dir / "reins.toml");
    INFO(dump(r.diagnostics));
    REQUIRE(r.diagnostics.size() == 1);
    CHECK(r.diagnostics[0].key == "defaults.stop.timeout");
}

TEST_CASE("a [defaults] probe that needs a port names each service without one") {
    TempDir dir("config");
    auto r = reins::config::load_toml("version = 1\n[defaults]\nready.tcp = true\n"
                                      "[service.a]\ncommand = \"a\"\n[service.b]\ncommand = \"b\"\nport = 1\n"
                                      "[service.c]\ncommand = \"c\"\n",
                                      dir / "reins.toml");
    INFO(dump(r.diagnostics));
    REQUIRE(r.diagnostics.size() == 2);
    CHECK(r.diagnostics[0].key == "defaults.ready.tcp");
    CHECK(r.diagnostics[0].line == 3);
    CHECK(r.diagnostics[0].message.find("(service a)") != std::string::npos);
    CHECK(r.diagnostics[1].message.find("(service c)") != std::string::npos);
}

TEST_CASE("a syntax error carries toml++'s position and the line as an excerpt") {
    TempDir dir("config");
    auto r = reins::config::load_toml("version = 1\n[service.api]\ncommand = = \"x\"\n", dir / "reins.toml");
    REQUIRE(r.diagnostics.size() == 1);
    const auto& d = r.diagnostics[0];
    CHECK(d.line == 3);
    CHECK(d.excerpt == "command = = \"x\"");
    std::string text = reins::config::format(d);
    CHECK(text.find("reins.toml:3:") != std::string::npos);
    CHECK(text.find(" 3 | command = = \"x\"") != std::string::npos);
    CHECK(text.find("^") != std::string::npos);
}

TEST_CASE("colors only when asked") {
    reins::config::Diagnostic d;
    d.file = "reins.toml";
    d.line = 2;
    d.column = 3;
    d.message = "m";
    d.excerpt = "abcdef";
    CHECK(reins::config::format(d).find('\x1b') == std::string::npos);
    CHECK(reins::config::format(d, {true, true}).find("\x1b[1;31merror:") != std::string::npos);
}

}  // TEST_SUITE
