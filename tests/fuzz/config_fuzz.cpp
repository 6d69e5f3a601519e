// libFuzzer target: the config loader (docs/reliability.md, Fuzzing). Arbitrary bytes as a
// reins.toml, a Procfile and a .env never crash or hang the loader, and a
// config that loads prints (reins check) as a config that loads to the same
// effective configuration; a legacy file's migration is checked the same way
// inside plan_migration.
//
//   meson setup build-fuzz -Dfuzz=enabled (CXX=clang++)
//   build-fuzz/tests/fuzz/config_fuzz tests/fuzz/config_fuzz-seeds -dict=tests/fuzz/config_fuzz.dict
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "reins/config/config.hpp"
#include "reins/config/emit.hpp"
#include "reins/config/envfile.hpp"
#include "reins/config/migrate.hpp"
#include "reins/config/units.hpp"
#include "reins/config/values.hpp"

namespace {

// A folder that does not exist: env_file paths in the input resolve to
// nothing readable (absolute ones are read, and must be regular files).
const std::string kPath = "/nonexistent-reins-fuzz/reins.toml";

std::string effective(const reins::config::Config& c) {
    return reins::config::to_toml(reins::config::to_document(c, reins::config::EmitMode::effective));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 64 * 1024) return 0;  // configs are small; keep runs fast
    std::string_view text(reinterpret_cast<const char*>(data), size);

    auto r = reins::config::load_toml(text, kPath);
    for (const auto& d : r.diagnostics) (void)reins::config::format(d, {true, true});
    if (r.ok()) {
        std::string printed = effective(r.config);
        auto again = reins::config::load_toml(printed, kPath);
        if (!again.ok() || effective(again.config) != printed) __builtin_trap();
        (void)reins::config::to_json(reins::config::to_document(r.config, reins::config::EmitMode::effective));
        (void)reins::config::plan_migration(text, kPath);
    }

    (void)reins::config::load_procfile(text, "/nonexistent-reins-fuzz/Procfile");
    (void)reins::config::parse_env(text, ".env");

    // The value parsers on the first line.
    std::string_view line = text.substr(0, text.find('\n'));
    if (auto d = reins::config::parse_duration(line); d && *reins::config::parse_duration(reins::config::format_duration(*d)) != *d)
        __builtin_trap();
    if (auto s = reins::config::parse_size(line); s && *reins::config::parse_size(reins::config::format_size(*s)) != *s)
        __builtin_trap();
    (void)reins::config::parse_signal(line);
    (void)reins::config::parse_http_action(line);
    (void)reins::config::parse_ready_flag(line);
    return 0;
}
