#include "reins/config/reader.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>

#include "reins/config/envfile.hpp"
#include "reins/config/text.hpp"

namespace reins::config::detail {

void Checker::error(Pos at, std::string key, std::string message, std::string hint) {
    out_->push_back(Diagnostic{Severity::error, file_, at.line, at.column, std::move(key), std::move(message),
                               std::move(hint), {}});
}

void Checker::warning(Pos at, std::string key, std::string message, std::string hint) {
    out_->push_back(Diagnostic{Severity::warning, file_, at.line, at.column, std::move(key), std::move(message),
                               std::move(hint), {}});
}

void Checker::expected(const Node& n, const std::string& key, const std::string& what, std::string hint) {
    error(n.pos, key, key + ": expected " + what + ", found " + describe(n), std::move(hint));
}

std::optional<std::string> Checker::string(const Node& n, const std::string& key, bool allow_empty) {
    if (n.type != Node::Type::string) {
        expected(n, key, allow_empty ? "a string" : "a non-empty string");
        return std::nullopt;
    }
    if (!allow_empty && n.str.find_first_not_of(" \t\r\n") == std::string::npos) {
        expected(n, key, "a non-empty string");
        return std::nullopt;
    }
    if (n.str.find('\0') != std::string::npos) {
        error(n.pos, key, key + ": a string here cannot contain a NUL character");
        return std::nullopt;
    }
    return n.str;
}

std::optional<bool> Checker::boolean(const Node& n, const std::string& key) {
    if (n.type == Node::Type::boolean) return n.boolean;
    std::string hint;
    if (n.type == Node::Type::string && (n.str == "true" || n.str == "false")) hint = "write " + n.str + " without quotes";
    expected(n, key, "true or false", std::move(hint));
    return std::nullopt;
}

std::optional<int64_t> Checker::integer(const Node& n, const std::string& key, int64_t lo, int64_t hi) {
    if (n.type == Node::Type::integer && n.integer >= lo && n.integer <= hi) return n.integer;
    std::string range = hi >= INT32_MAX ? std::to_string(lo) + " or more"
                                        : "from " + std::to_string(lo) + " to " + std::to_string(hi);
    if (n.type != Node::Type::integer) {
        std::string hint;
        if (n.type == Node::Type::string && !n.str.empty() &&
            n.str.find_first_not_of("0123456789") == std::string::npos)
            hint = "write " + n.str + " without quotes";
        expected(n, key, "an integer " + range, std::move(hint));
        return std::nullopt;
    }
    error(n.pos, key, key + ": expected an integer " + range + ", found " + std::to_string(n.integer));
    return std::nullopt;
}

std::optional<double> Checker::number(const Node& n, const std::string& key, double lo, double hi) {
    double v = 0;
    bool numeric = n.type == Node::Type::floating || n.type == Node::Type::integer;
    if (numeric) v = n.type == Node::Type::floating ? n.floating : static_cast<double>(n.integer);
    if (numeric && v >= lo && v <= hi) return v;  // NaN fails
    char buf[96];
    std::snprintf(buf, sizeof buf, "a number from %g to %g", lo, hi);
    expected(n, key, buf);
    return std::nullopt;
}

std::optional<Millis> Checker::duration(const Node& n, const std::string& key, Millis lo) {
    if (n.type == Node::Type::integer || n.type == Node::Type::floating) {
        std::string hint;
        if (n.type == Node::Type::integer && n.integer >= 0) hint = "durations are strings with a unit: \"" + std::to_string(n.integer) + "s\" or \"" + std::to_string(n.integer) + "ms\"";
        expected(n, key, "a duration like \"250ms\", \"5s\", \"2m\" or \"1h\"", std::move(hint));
        return std::nullopt;
    }
    if (n.type != Node::Type::string) {
        expected(n, key, "a duration like \"250ms\", \"5s\", \"2m\" or \"1h\"");
        return std::nullopt;
    }
    auto d = parse_duration(n.str);
    if (!d) {
        error(n.pos, key, key + ": " + d.error().context);
        return std::nullopt;
    }
    if (*d < lo) {
        error(n.pos, key, key + ": expected a duration of at least " + format_duration(lo) + ", found " + quote(n.str));
        return std::nullopt;
    }
    return *d;
}

std::optional<uint64_t> Checker::size(const Node& n, const std::string& key, uint64_t lo) {
    uint64_t v = 0;
    if (n.type == Node::Type::integer) {
        if (n.integer < 0) {
            expected(n, key, "a size like \"10MiB\" or a number of bytes");
            return std::nullopt;
        }
        v = static_cast<uint64_t>(n.integer);
    } else if (n.type == Node::Type::string) {
        auto s = parse_size(n.str);
        if (!s) {
            error(n.pos, key, key + ": " + s.error().context);
            return std::nullopt;
        }
        v = *s;
    } else {
        expected(n, key, "a size like \"10MiB\" or a number of bytes");
        return std::nullopt;
    }
    if (v < lo || v > max_size) {
        error(n.pos, key, key + ": expected a size of at least " + format_size(lo) + " and at most 1024TiB, found " +
                              (n.type == Node::Type::string ? quote(n.str) : std::to_string(n.integer)));
        return std::nullopt;
    }
    return v;
}

const Node* Checker::table(const Node& n, const std::string& key, const std::string& example) {
    if (n.is_table()) return &n;
    expected(n, key, "a table like " + example);
    return nullptr;
}

std::optional<Hit> Layers::get(std::string_view key) const {
    for (const auto& l : layers_) {
        if (const Member* m = l.table->member(key))
            return Hit{&m->value, l.path + "." + key_text(key), m->key_pos, l.defaults};
    }
    return std::nullopt;
}

std::vector<Hit> Layers::all(std::string_view key, bool non_tables) const {
    std::vector<Hit> out;
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
        if (const Member* m = it->table->member(key); m && !(non_tables && m->value.is_table()))
            out.push_back(Hit{&m->value, it->path + "." + key_text(key), m->key_pos, it->defaults});
    }
    return out;
}

std::vector<std::pair<std::string, Hit>> Layers::choice(const std::vector<std::string_view>& keys) const {
    std::vector<std::pair<std::string, Hit>> out;
    for (const auto& l : layers_) {
        for (const auto& m : l.table->members) {
            if (std::find(keys.begin(), keys.end(), m.key) != keys.end())
                out.emplace_back(m.key, Hit{&m.value, l.path + "." + key_text(m.key), m.key_pos, l.defaults});
        }
        if (!out.empty()) break;
    }
    return out;
}

Layers Layers::sub(std::string_view key) const {
    std::vector<Layer> out;
    for (const auto& l : layers_) {
        if (const Node* n = l.table->find(key); n && n->is_table())
            out.push_back(Layer{n, l.path + "." + key_text(key), l.defaults});
    }
    return Layers(std::move(out));
}

const std::string& Layers::path() const {
    static const std::string none;
    return layers_.empty() ? none : layers_.front().path;
}

std::string resolve_path(const std::string& dir, const std::string& path) {
    std::filesystem::path p(path);
    if (p.is_relative()) p = std::filesystem::path(dir) / p;
    std::string out = p.lexically_normal().string();
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
}

const EnvFileCache::Entry& env_file(Checker& c, const Place& place, const std::string& written) {
    std::string abs = resolve_path(place.dir, written);
    auto [it, fresh] = place.env_files->files.try_emplace(abs);
    if (!fresh) return it->second;
    auto& e = it->second;
    auto text = read_text_file(abs, 1u << 20);
    if (!text) {
        e.error = text.error().code.message();
        return e;
    }
    std::string shown = std::filesystem::path(written).is_absolute()
                            ? written
                            : resolve_path(place.display_dir.empty() ? "." : place.display_dir, written);
    if (place.display_dir.empty() && shown.rfind("./", 0) != 0 && shown[0] != '/') shown = "./" + shown;
    auto parsed = parse_env(*text, shown);
    for (auto& d : parsed.diagnostics) c.add(std::move(d));
    e.ok = true;
    for (auto& entry : parsed.entries) e.values.emplace_back(std::move(entry.key), std::move(entry.value));
    return e;
}

}  // namespace reins::config::detail
