// Internal to the config layer: reading typed values out of Nodes while
// collecting diagnostics, and looking a service's keys up through [defaults].
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reins/config/config.hpp"
#include "reins/config/document.hpp"
#include "reins/config/units.hpp"

namespace reins::config::detail {

/// Collects diagnostics for one file and reads typed values, reporting
/// every mismatch as "KEY: expected X, found Y" at the value's position.
/// A read that fails returns nullopt; the caller goes on with the default.
class Checker {
public:
    Checker(std::string file, std::vector<Diagnostic>* out) : file_(std::move(file)), out_(out) {}

    const std::string& file() const noexcept { return file_; }
    void error(Pos at, std::string key, std::string message, std::string hint = {});
    void warning(Pos at, std::string key, std::string message, std::string hint = {});
    /// A diagnostic about another file (an env file).
    void add(Diagnostic d) { out_->push_back(std::move(d)); }
    /// "KEY: expected WHAT, found <describe(n)>".
    void expected(const Node& n, const std::string& key, const std::string& what, std::string hint = {});

    std::optional<std::string> string(const Node& n, const std::string& key, bool allow_empty = false);
    std::optional<bool> boolean(const Node& n, const std::string& key);
    std::optional<int64_t> integer(const Node& n, const std::string& key, int64_t lo, int64_t hi);
    /// A float or an integer within [lo, hi].
    std::optional<double> number(const Node& n, const std::string& key, double lo, double hi);
    /// A duration string of at least `lo`.
    std::optional<Millis> duration(const Node& n, const std::string& key, Millis lo = Millis{0});
    /// A size string or an integer number of bytes, at least `lo`.
    std::optional<uint64_t> size(const Node& n, const std::string& key, uint64_t lo = 1);
    /// The table itself, or nullptr after reporting what was found instead.
    const Node* table(const Node& n, const std::string& key, const std::string& example);

private:
    std::string file_;
    std::vector<Diagnostic>* out_;
};

/// A key found in one of the layers.
struct Hit {
    const Node* node = nullptr;
    std::string path;       ///< "service.api.restart.max" or "defaults.restart.max"
    Pos key_pos;
    bool from_defaults = false;
};

/// A service's table seen through [defaults]: its own value wins, tables
/// merge key by key (docs/config.md, `[defaults]`).
class Layers {
public:
    struct Layer {
        const Node* table = nullptr;
        std::string path;
        bool defaults = false;
    };

    Layers() = default;
    explicit Layers(std::vector<Layer> layers) : layers_(std::move(layers)) {}

    /// The first layer's value of `key`.
    std::optional<Hit> get(std::string_view key) const;
    /// Every layer's value of `key`, defaults first (for merging maps);
    /// with `non_tables`, only the values that are not tables.
    std::vector<Hit> all(std::string_view key, bool non_tables = false) const;
    /// Of a group of exclusive keys (the readiness kinds), the ones present
    /// in the first layer that has any: a service's own choice replaces the
    /// defaults' choice instead of adding to it. In file order.
    std::vector<std::pair<std::string, Hit>> choice(const std::vector<std::string_view>& keys) const;
    /// The sub-table `key` of every layer where it is a table.
    Layers sub(std::string_view key) const;
    /// The path of the first layer (where a missing key is reported).
    const std::string& path() const;

private:
    std::vector<Layer> layers_;
};

/// env files read once per load (a [defaults] env_file is shared by every
/// service): absolute path → parsed values, or why it could not be read.
struct EnvFileCache {
    struct Entry {
        bool ok = false;
        std::string error;  ///< "No such file or directory"
        std::vector<std::pair<std::string, std::string>> values;
    };
    std::map<std::string, Entry> files;
};

/// Where relative paths resolve and how to show them.
struct Place {
    std::string dir;          ///< absolute folder of the config file
    std::string display_dir;  ///< the folder as the user named it ("" for the cwd)
    EnvFileCache* env_files = nullptr;
};

/// A dependency as written, for the graph checks.
struct DepRef {
    std::string name;
    Pos pos;
    std::string path;  ///< "service.web.depends_on[0]" or "service.web.depends_on.api"
};

/// One service read from its layers.
struct ServiceRead {
    supervisor::ServiceSpec spec;
    std::vector<DepRef> deps;
    Pos pos;
};

/// `path` resolved against `dir` (absolute and normalized; no trailing '/').
std::string resolve_path(const std::string& dir, const std::string& path);

/// A `command` value: a non-empty string or a non-empty array of strings.
std::optional<supervisor::CommandSpec> command_value(Checker& c, const Node& n, const std::string& path);
/// Reads a service (v1 keys) from its layers; `pos` is its table's position.
ServiceRead read_service(Checker& c, const std::string& name, const Layers& l, Pos pos, const Place& place);
/// ready, health, restart, stop (probe_reader.cpp).
void read_ready(Checker& c, const Layers& l, supervisor::ServiceSpec& s);
void read_health(Checker& c, const Layers& l, supervisor::ServiceSpec& s);
void read_restart(Checker& c, const Layers& l, supervisor::ServiceSpec& s);
void read_stop(Checker& c, const Layers& l, supervisor::ServiceSpec& s);

/// Reads `path` as a .env file into the cache (once); the entry.
const EnvFileCache::Entry& env_file(Checker& c, const Place& place, const std::string& written);

}  // namespace reins::config::detail
