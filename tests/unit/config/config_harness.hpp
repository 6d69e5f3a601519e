// Helpers of the config tests: a temporary folder removed at the end of
// the test (even when it fails), files written into it, and loading.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "reins/config/config.hpp"
#include "temp_dir.hpp"

namespace reins::test {

/// Every diagnostic on one line each (for failure messages).
inline std::string dump(const std::vector<config::Diagnostic>& ds) {
    std::string out;
    for (const auto& d : ds) out += config::format(d, config::FormatOptions{false, false}) + "\n";
    return out;
}

/// Loads `text` as reins.toml in `dir`; fails the test on an error.
inline config::Config load_ok(const TempDir& dir, const std::string& text) {
    auto r = config::load_toml(text, dir / "reins.toml");
    INFO(dump(r.diagnostics));
    REQUIRE(r.ok());
    return r.config;
}

/// Checks every field of a ServiceSpec, so a failure names the field.
inline void check_same(const supervisor::ServiceSpec& got, const supervisor::ServiceSpec& want) {
    CAPTURE(want.name);
    CHECK(got.name == want.name);
    CHECK(got.command.value == want.command.value);
    CHECK(got.cwd == want.cwd);
    CHECK(got.env == want.env);
    CHECK(got.env_clear == want.env_clear);
    CHECK(got.port == want.port);
    CHECK(got.port_env == want.port_env);
    CHECK(got.host == want.host);
    CHECK(got.ready.kind == want.ready.kind);
    CHECK(got.ready.target == want.ready.target);
    CHECK(got.ready.timeout == want.ready.timeout);
    CHECK(got.ready.interval == want.ready.interval);
    CHECK(got.ready.max_interval == want.ready.max_interval);
    CHECK(got.ready.probe_timeout == want.ready.probe_timeout);
    CHECK(got.ready.after == want.ready.after);
    CHECK(got.health.kind == want.health.kind);
    CHECK(got.health.target == want.health.target);
    CHECK(got.health.interval == want.health.interval);
    CHECK(got.health.timeout == want.health.timeout);
    CHECK(got.health.failures == want.health.failures);
    CHECK(got.health.watchdog == want.health.watchdog);
    CHECK(got.restart.mode == want.restart.mode);
    CHECK(got.restart.success_codes == want.restart.success_codes);
    CHECK(got.restart.initial == want.restart.initial);
    CHECK(got.restart.max_delay == want.restart.max_delay);
    CHECK(got.restart.multiplier == want.restart.multiplier);
    CHECK(got.restart.jitter == want.restart.jitter);
    CHECK(got.restart.max_restarts == want.restart.max_restarts);
    CHECK(got.restart.window == want.restart.window);
    CHECK(got.stop.pre.has_value() == want.stop.pre.has_value());
    if (got.stop.pre && want.stop.pre) {
        CHECK(got.stop.pre->method == want.stop.pre->method);
        CHECK(got.stop.pre->target == want.stop.pre->target);
    }
    CHECK(got.stop.pre_exec == want.stop.pre_exec);
    CHECK(got.stop.pre_timeout == want.stop.pre_timeout);
    CHECK(got.stop.http.has_value() == want.stop.http.has_value());
    if (got.stop.http && want.stop.http) {
        CHECK(got.stop.http->method == want.stop.http->method);
        CHECK(got.stop.http->target == want.stop.http->target);
    }
    CHECK(got.stop.signal == want.stop.signal);
    CHECK(got.stop.timeout == want.stop.timeout);
    CHECK(got.stop.hooks_when_unhealthy == want.stop.hooks_when_unhealthy);
    CHECK(got.logs.file == want.logs.file);
    CHECK(got.logs.max_size == want.logs.max_size);
    CHECK(got.logs.keep == want.logs.keep);
    REQUIRE(got.depends_on.size() == want.depends_on.size());
    for (std::size_t i = 0; i < got.depends_on.size(); ++i) {
        CHECK(got.depends_on[i].name == want.depends_on[i].name);
        CHECK(got.depends_on[i].condition == want.depends_on[i].condition);
    }
}

/// A ServiceSpec with every default of a service `name` in `dir`.
inline supervisor::ServiceSpec defaults_for(const std::string& name, const std::string& dir) {
    supervisor::ServiceSpec s;
    s.name = name;
    s.cwd = dir;
    s.logs.file = "logs/" + name + ".log";
    return s;
}

}  // namespace reins::test
