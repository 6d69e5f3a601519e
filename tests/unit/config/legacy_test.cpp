// The legacy single-server format (docs/config.md's table) and its migration.
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "config_harness.hpp"
#include "reins/config/emit.hpp"
#include "reins/config/migrate.hpp"

namespace {

using namespace std::chrono_literals;
using reins::supervisor::CommandSpec;
using reins::supervisor::HttpAction;
using reins::supervisor::PortSpec;
using reins::supervisor::ProbeKind;
using reins::test::check_same;
using reins::test::dump;
using reins::test::TempDir;

const char* kFull = R"(# the desktop sidecar
version = 0
command = ["./server", "--port", "${PORT}"]

[server]
host = "localhost"
port = 8080
port_range = [8080, 8090]
max_connections = 100

[database]
filename = "app.db"
checkpoint_on_shutdown = false
backup_before_migration = true

[logging]
level = "debug"
directory = "var/logs"
max_file_size_mb = 20
retention_count = 3

[resilience]
max_restarts = 3
restart_window_secs = 60
initial_backoff_ms = 200
max_backoff_ms = 10000
startup_timeout_secs = 15
health_check_interval_secs = 10
shutdown_timeout_secs = 5
)";

// Legacy files for the migration round trips: minimal, partial, full.
const char* kLegacyFiles[] = {
    "[server]\ncommand = \"./server\"\n",
    "command = \"./server --port $PORT\"\n[server]\nport = 9000\n[resilience]\nmax_restarts = 0\n",
    "command = [\"./s\"]\n[server]\nhost = \"::1\"\n[logging]\nlevel = \"info\"\n[database]\ncheckpoint_on_shutdown = true\n",
    kFull,
};

reins::config::LoadResult load(const TempDir& dir, const std::string& text) {
    return reins::config::load_toml(text, dir / "reins.toml");
}

std::string effective(const reins::config::Config& c) {
    return reins::config::to_toml(reins::config::to_document(c, reins::config::EmitMode::effective));
}

}  // namespace

TEST_SUITE("legacy") {

TEST_CASE("missing legacy keys take the seeds' defaults") {
    TempDir dir("config");
    auto r = load(dir, "[server]\ncommand = \"./server\"\n");
    INFO(dump(r.diagnostics));
    REQUIRE(r.ok());
    CHECK(r.config.format == reins::config::Format::legacy);
    CHECK(r.config.version == 0);
    REQUIRE(r.config.services.size() == 1);
    auto want = reins::test::defaults_for("server", dir.path);
    want.command = CommandSpec{std::string("./server")};
    want.port = PortSpec::prefer_in(8000, 8000, 8100);
    want.ready.kind = ProbeKind::http;
    want.ready.target = "/ready";
    want.health.kind = ProbeKind::http;
    want.health.target = "/ready";
    want.stop.pre = HttpAction{"POST", "/admin/checkpoint"};
    want.stop.http = HttpAction{"POST", "/admin/shutdown"};
    check_same(r.config.services[0], want);
    // The legacy note is a warning, not an error.
    REQUIRE(r.diagnostics.size() == 1);
    CHECK(r.diagnostics[0].message.find("legacy single-server format") != std::string::npos);
}

TEST_CASE("every legacy key maps as docs/config.md's table says") {
    TempDir dir("config");
    auto r = load(dir, kFull);
    INFO(dump(r.diagnostics));
    REQUIRE(r.ok());
    auto want = reins::test::defaults_for("server", dir.path);
    want.command = CommandSpec{std::vector<std::string>{"./server", "--port", "${PORT}"}};
    want.host = "localhost";
    want.port = PortSpec::prefer_in(8080, 8080, 8090);
    want.port.host = "localhost";
    want.stop.http = HttpAction{"POST", "/admin/shutdown"};  // checkpoint_on_shutdown = false: no stop.pre
    want.env = {{"LOG_LEVEL", "debug"}};
    want.logs.file = "var/logs/server.log";
    want.logs.max_size = 20u << 20;
    want.logs.keep = 3;
    want.restart.max_restarts = 3;
    want.restart.window = 60s;
    want.restart.initial = 200ms;
    want.restart.max_delay = 10s;
    want.ready.kind = ProbeKind::http;
    want.ready.target = "/ready";
    want.ready.timeout = 15s;
    want.health.kind = ProbeKind::http;
    want.health.target = "/ready";
    want.health.interval = 10s;
    want.health.failures = 3;
    want.stop.timeout = 5s;
    check_same(r.config.services.at(0), want);
    // Keys reins does not use: noted, one warning each.
    CHECK(r.config.legacy_unused == std::vector<std::string>{"[server] max_connections = 100",
                                                               "[database] filename = \"app.db\"",
                                                               "[database] backup_before_migration = true"});
    int unused = 0;
    for (const auto& d : r.diagnostics) unused += d.message.find("is not used by reins") != std::string::npos;
    CHECK(unused == 3);
}

TEST_CASE("detection: [server] without [service] and without version is legacy") {
    TempDir dir("config");
    CHECK(load(dir, "[server]\ncommand = \"x\"\n").config.format == reins::config::Format::legacy);
    CHECK(load(dir, "version = 0\ncommand = \"x\"\n").config.format == reins::config::Format::legacy);
    // With a [service] table it is version 1, and [server] is an unknown key there.
    auto both = load(dir, "[server]\nport = 1\n[service.a]\ncommand = \"x\"\n");
    CHECK(both.config.format == reins::config::Format::toml);
    CHECK_FALSE(both.ok());
    CHECK(dump(both.diagnostics).find("legacy format") != std::string::npos);
}

}  // TEST_SUITE

TEST_SUITE("migrate") {

TEST_CASE("a migrated legacy file loads to the same effective config") {
    TempDir dir("config");
    for (const char* text : kLegacyFiles) {
        CAPTURE(text);
        auto before = load(dir, text);
        REQUIRE(before.ok());
        auto plan = reins::config::plan_migration(text, dir / "reins.toml");
        REQUIRE(plan.ok);
        REQUIRE(plan.needed);
        auto after = load(dir, plan.text);
        INFO(plan.text);
        INFO(dump(after.diagnostics));
        REQUIRE(after.ok());
        CHECK(after.diagnostics.empty());  // a clean version 1 file: no warnings
        CHECK(after.config.format == reins::config::Format::toml);
        check_same(after.config.services.at(0), before.config.services.at(0));
        CHECK(effective(after.config) == effective(before.config));
    }
}

TEST_CASE("migrate_file rewrites in place and keeps the original as .bak") {
    TempDir dir("config");
    std::string path = dir.write("reins.toml", kFull);
    ::chmod(path.c_str(), 0640);
    auto out = reins::config::migrate_file(path);
    REQUIRE(out);
    CHECK(out->backup == path + ".bak");
    CHECK(dir.read("reins.toml.bak") == kFull);
    std::string migrated = dir.read("reins.toml");
    CHECK(migrated == out->plan.text);
    CHECK(migrated.find("# Not used by reins: [server] max_connections = 100") != std::string::npos);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0640);
    // No temp file is left behind.
    int files = 0;
    for (auto& e : std::filesystem::directory_iterator(dir.path)) files += e.is_regular_file();
    CHECK(files == 2);
    // Migrating again is a no-op.
    auto again = reins::config::migrate_file(path);
    REQUIRE(again);
    CHECK_FALSE(again->plan.needed);
    CHECK(dir.read("reins.toml") == migrated);
}

TEST_CASE("a version 1 file without version only gains the version line") {
    TempDir dir("config");
    std::string text = "# mine\n[service.a]\ncommand = \"a\"\n";
    auto plan = reins::config::plan_migration(text, dir / "reins.toml");
    REQUIRE(plan.needed);
    CHECK(plan.text == "version = 1\n\n" + text);
}

TEST_CASE("nothing is written for a file with errors, or a Procfile") {
    TempDir dir("config");
    std::string path = dir.write("reins.toml", "[server]\ncommand = 5\n");
    auto out = reins::config::migrate_file(path);
    REQUIRE_FALSE(out);
    CHECK(out.error().context.find("server.command") != std::string::npos);
    CHECK(dir.read("reins.toml") == "[server]\ncommand = 5\n");
    CHECK_FALSE(std::filesystem::exists(path + ".bak"));
    auto proc = reins::config::plan_migration("web: x\n", dir / "Procfile");
    CHECK_FALSE(proc.ok);
}

TEST_CASE("crash safety: the original is intact when a write fails") {
    TempDir dir("config");
    // Small, so that its .bak fits under the limit below and the new file does not.
    const std::string original = "[server]\ncommand = \"./server\"\n";
    std::string path = dir.write("reins.toml", original);
    SUBCASE(".bak cannot be written (a folder is in the way)") {
        std::filesystem::create_directory(path + ".bak");
        auto out = reins::config::migrate_file(path);
        REQUIRE_FALSE(out);
        CHECK(out.error().context.find("rename") != std::string::npos);
    }
    SUBCASE("the new file's write fails (file size limit, as a full disk would)") {
        // In a child: RLIMIT_FSIZE makes write(2) fail with EFBIG (SIGXFSZ
        // ignored), which even root cannot get around, unlike a read-only folder.
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            std::signal(SIGXFSZ, SIG_IGN);
            rlimit lim{64, 64};
            ::setrlimit(RLIMIT_FSIZE, &lim);
            auto out = reins::config::migrate_file(path);
            bool efbig = !out && out.error().code == std::errc::file_too_large;
            ::_exit(efbig ? 0 : 1);
        }
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
        CHECK(dir.read("reins.toml.bak") == original);  // step 1 was done, step 2 failed
    }
    CHECK(dir.read("reins.toml") == original);
    for (auto& e : std::filesystem::directory_iterator(dir.path))
        CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
}

TEST_CASE("write_file_atomic replaces a file whole") {
    TempDir dir("config");
    std::string path = dir.write("f", "old");
    REQUIRE(reins::config::write_file_atomic(path, "new contents", 0600));
    CHECK(dir.read("f") == "new contents");
    auto bad = reins::config::write_file_atomic(dir / "missing/f", "x");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().context.find("missing/f") != std::string::npos);
}

}  // TEST_SUITE
