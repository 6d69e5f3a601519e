#include "reins/config/schema.hpp"

#include "reins/config/text.hpp"

namespace reins::config::detail {

const Schema& service_schema() {
    static const Schema port{{{"prefer"}, {"range"}}};
    static const Schema open{{}, true};
    static const Schema ready{{{"http"}, {"tcp"}, {"notify"}, {"log"}, {"exec"}, {"timeout"}, {"interval"},
                               {"probe_timeout"}, {"after"}}};
    static const Schema health{{{"http"}, {"tcp"}, {"exec"}, {"watchdog"}, {"interval"}, {"timeout"}, {"failures"}}};
    static const Schema backoff{{{"initial"}, {"max"}, {"multiplier"}, {"jitter"}}};
    static const Schema restart{{{"policy"}, {"success_codes"}, {"backoff", &backoff}, {"max"}, {"window"}}};
    static const Schema stop{{{"pre"}, {"pre_exec"}, {"pre_timeout"}, {"http"}, {"signal"}, {"timeout"},
                                 {"hooks_when_unhealthy"}}};
    static const Schema logs{{{"file"}, {"max_size"}, {"keep"}}};
    static const Schema service{{
        {"command"}, {"cwd"}, {"env", &open}, {"env_file"}, {"env_clear"}, {"port", &port}, {"port_env"}, {"host"},
        {"ready", &ready}, {"health", &health}, {"restart", &restart}, {"stop", &stop}, {"logs", &logs},
        {"depends_on", &open},
    }};
    return service;
}

const Schema& v1_schema() {
    static const Schema supervisor{{{"listen"}, {"allow_remote"}}};
    static const Schema services{{}, false, &service_schema()};
    static const Schema doc{{{"version"}, {"supervisor", &supervisor}, {"defaults", &service_schema()},
                             {"service", &services}}};
    return doc;
}

const Schema& legacy_schema() {
    static const Schema server{{{"command"}, {"host"}, {"port"}, {"port_range"}, {"max_connections"}}};
    static const Schema database{{{"checkpoint_on_shutdown"}, {"filename"}, {"backup_before_migration"}}};
    static const Schema logging{{{"level"}, {"directory"}, {"max_file_size_mb"}, {"retention_count"}}};
    static const Schema resilience{{{"max_restarts"}, {"restart_window_secs"}, {"initial_backoff_ms"},
                                    {"max_backoff_ms"}, {"startup_timeout_secs"}, {"health_check_interval_secs"},
                                    {"shutdown_timeout_secs"}}};
    static const Schema doc{{{"version"}, {"command"}, {"server", &server}, {"database", &database},
                             {"logging", &logging}, {"resilience", &resilience}}};
    return doc;
}

namespace {

/// Dotted paths (relative to `schema`) of every key called `name` below it.
void find_key(const Schema& schema, std::string_view name, const std::string& prefix, std::vector<std::string>& out) {
    for (const auto& k : schema.keys) {
        std::string p = prefix.empty() ? std::string(k.name) : prefix + "." + std::string(k.name);
        if (k.name == name) out.push_back(p);
        if (k.child && !k.child->open) find_key(*k.child, name, p, out);
    }
}

std::string label(const std::string& path) { return path.empty() ? "at the top level" : "in [" + path + "]"; }

struct Walk {
    Checker& c;
    const Schema* scope = nullptr;         // the service schema we are inside, if any
    const std::string* scope_path = nullptr;

    static std::string join(const std::string& path, const std::string& key) {
        return path.empty() ? key_text(key) : path + "." + key_text(key);
    }

    void run(const Node& table, const Schema& schema, const std::string& path) {
        if (schema.open) return;
        const Schema* saved = scope;
        const std::string* saved_path = scope_path;
        if (&schema == &service_schema()) {
            scope = &schema;
            scope_path = &path;
        }
        for (const auto& m : table.members) {
            if (schema.each) {
                if (m.value.is_table()) run(m.value, *schema.each, join(path, m.key));
                continue;
            }
            const Schema::Key* known = nullptr;
            for (const auto& k : schema.keys) {
                if (k.name == m.key) {
                    known = &k;
                    break;
                }
            }
            if (!known) {
                report(m, schema, path, join(path, m.key));
            } else if (known->child && !known->child->open && m.value.is_table()) {
                run(m.value, *known->child, join(path, m.key));
            }
        }
        scope = saved;
        scope_path = saved_path;
    }

    void report(const Member& m, const Schema& schema, const std::string& path, const std::string& key_path) {
        std::vector<std::string_view> names;
        for (const auto& k : schema.keys) names.push_back(k.name);
        std::string hint;
        if (auto close = closest(m.key, names); !close.empty()) {
            hint = "did you mean '" + close + "'?";
        } else if (scope) {
            std::vector<std::string> where;
            find_key(*scope, m.key, "", where);
            const std::string& sp = *scope_path;
            std::string rel = path.size() > sp.size() ? path.substr(sp.size() + 1) + "." : "";
            for (auto& w : where) {
                // Relative to this table when below it, else from the service.
                if (!rel.empty() && w.rfind(rel, 0) == 0) w = w.substr(rel.size());
                else if (!rel.empty()) w = sp + "." + w;
            }
            if (where.size() == 1) hint = "did you mean '" + where[0] + "'?";
            else if (!where.empty()) {
                hint = "did you mean ";
                for (std::size_t i = 0; i < where.size(); ++i)
                    hint += (i ? (i + 1 == where.size() ? " or '" : ", '") : "'") + where[i] + "'";
                hint += "?";
            }
        }
        if (path.empty() && m.key == "server")
            hint = "a [server] table is the legacy format, read only with version = 0 or without a [service] table";
        if (hint.empty() && !names.empty()) {
            hint = "known keys: ";
            for (std::size_t i = 0; i < names.size(); ++i) hint += (i ? ", " : "") + std::string(names[i]);
        }
        std::string shown = quote(m.key);
        shown.front() = shown.back() = '\'';
        c.error(m.key_pos, key_path, "unknown key " + shown + " " + label(path), std::move(hint));
    }
};

}  // namespace

void check_unknown_keys(Checker& c, const Node& table, const Schema& schema, const std::string& path) {
    Walk w{c, nullptr, nullptr};
    w.run(table, schema, path);
}

}  // namespace reins::config::detail
