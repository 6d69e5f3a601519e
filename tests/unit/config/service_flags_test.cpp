// The per-service flags of `reins run` / `reins start` (docs/cli.md, Options).
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "reins/config/service_flags.hpp"

using namespace reins;
using namespace reins::config;
using supervisor::ProbeKind;

TEST_SUITE("flags") {
    TEST_CASE("a single command gets its name from argv[0] and the documented defaults") {
        auto spec = spec_from_command({"/usr/bin/python3", "-m", "http.server"}, {}, "/srv");
        REQUIRE(spec);
        CHECK(spec->name == "python3");
        CHECK(spec->cwd == "/srv");
        CHECK(spec->restart.mode == supervisor::RestartMode::on_failure);
        CHECK(spec->ready.kind == ProbeKind::none);
        CHECK(spec->stop.timeout == std::chrono::seconds(10));
        CHECK(spec->logs.file == "logs/python3.log");
        CHECK(!spec->command.is_shell());
        auto odd = spec_from_command({"./my server!"}, {}, "/srv");
        REQUIRE(odd);
        CHECK(odd->name == "my-server-");
    }

    TEST_CASE("every flag lands in the spec") {
        FlagValues f;
        f["name"] = {"web"};
        f["port"] = {"8000-8100"};
        f["ready"] = {"http:/ready"};
        f["health"] = {"tcp"};
        f["restart"] = {"always"};
        f["startup-timeout"] = {"2m"};
        f["stop-timeout"] = {"1500ms"};
        f["stop-signal"] = {"INT"};
        f["max-restarts"] = {"9"};
        f["restart-window"] = {"30s"};
        f["env"] = {"A=1", "B=x=y"};
        f["cwd"] = {"sub"};
        auto spec = spec_from_command({"npm", "run", "dev"}, f, "/srv");
        REQUIRE_MESSAGE(spec, (spec ? "" : spec.error().message()));
        CHECK(spec->name == "web");
        CHECK(spec->port.kind == supervisor::PortSpec::Kind::range);
        CHECK(spec->port.first == 8000);
        CHECK(spec->port.last == 8100);
        CHECK(spec->ready.kind == ProbeKind::http);
        CHECK(spec->ready.target == "/ready");
        CHECK(spec->health.kind == ProbeKind::tcp);
        CHECK(spec->restart.mode == supervisor::RestartMode::always);
        CHECK(spec->ready.timeout == std::chrono::minutes(2));
        CHECK(spec->stop.timeout == std::chrono::milliseconds(1500));
        CHECK(spec->stop.signal == SIGINT);
        CHECK(spec->restart.max_restarts == 9);
        CHECK(spec->restart.window == std::chrono::seconds(30));
        CHECK(spec->env.at("A") == "1");
        CHECK(spec->env.at("B") == "x=y");
        CHECK(spec->cwd == "/srv/sub");
    }

    TEST_CASE("--env-file is read, --env wins over it") {
        char dir[] = "/tmp/reins-flags-XXXXXX";
        REQUIRE(mkdtemp(dir));
        std::string file = std::string(dir) + "/.env";
        std::ofstream(file) << "A=from-file\nC=3\n";
        FlagValues f;
        f["env-file"] = {".env"};
        f["env"] = {"A=from-flag"};
        auto spec = spec_from_command({"x"}, f, dir);
        REQUIRE(spec);
        CHECK(spec->env.at("A") == "from-flag");
        CHECK(spec->env.at("C") == "3");
        std::remove(file.c_str());
        rmdir(dir);
    }

    TEST_CASE("bad values name the flag and change nothing") {
        struct Bad {
            const char* flag;
            const char* value;
            const char* fragment;
        };
        const Bad bad[] = {
            {"port", "eighty", "--port"},          {"ready", "carrier-pigeon", "--ready"},
            {"restart", "sometimes", "--restart"}, {"startup-timeout", "5", "--startup-timeout"},
            {"stop-signal", "SIGNOPE", "--stop-signal"}, {"max-restarts", "-1", "--max-restarts"},
            {"env", "NOEQUALS", "--env"},          {"name", "bad name", "--name"},
            {"env-file", "/nonexistent/.env", "--env-file"},
        };
        for (const auto& b : bad) {
            CAPTURE(b.flag);
            supervisor::ServiceSpec spec;
            spec.name = "keep";
            FlagValues f;
            f[b.flag] = {b.value};
            auto r = apply_flags(spec, f, "/srv");
            REQUIRE(!r);
            CHECK(r.error().context.find(b.fragment) != std::string::npos);
            CHECK(spec.name == "keep");
            CHECK(spec.env.empty());
        }
    }

    TEST_CASE("a tcp or http probe without a port is refused with the fix") {
        FlagValues f;
        f["ready"] = {"tcp"};
        auto spec = spec_from_command({"x"}, f, "/srv");
        REQUIRE(!spec);
        CHECK(spec.error().context.find("--port auto") != std::string::npos);
        f["port"] = {"auto"};
        CHECK(spec_from_command({"x"}, f, "/srv"));
    }

    TEST_CASE("no command") {
        CHECK(!spec_from_command({}, {}, "/srv"));
    }
}
