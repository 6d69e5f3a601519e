// Node tree → TOML text and JSON text.
#include "reins/config/emit.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "reins/config/text.hpp"

namespace reins::config {

Node make_string(std::string s) {
    Node n;
    n.type = Node::Type::string;
    n.str = std::move(s);
    return n;
}

Node make_integer(int64_t v) {
    Node n;
    n.type = Node::Type::integer;
    n.integer = v;
    return n;
}

Node make_bool(bool b) {
    Node n;
    n.type = Node::Type::boolean;
    n.boolean = b;
    return n;
}

Node make_table(bool inline_table) {
    Node n;
    n.type = Node::Type::table;
    n.inline_table = inline_table;
    return n;
}

Node make_array() {
    Node n;
    n.type = Node::Type::array;
    return n;
}

Node& add(Node& t, std::string key, Node value) {
    t.members.push_back(Member{std::move(key), {}, std::move(value)});
    return t.members.back().value;
}

void note(Node& t, std::string text) {
    Node c;
    c.type = Node::Type::comment;
    c.str = std::move(text);
    t.members.push_back(Member{{}, {}, std::move(c)});
}

namespace {

/// The shortest text that reads back as the same double, always with a '.'.
std::string float_text(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[64];
    for (int precision = 1; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    std::string s = buf;
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
}

bool is_section(const Node& n) { return n.is_table() && !n.inline_table; }
bool is_comment(const Node& n) { return n.type == Node::Type::comment; }

void write_table(std::string& out, const Node& t, const std::string& path) {
    for (const auto& m : t.members)
        if (is_comment(m.value)) out += "# " + m.value.str + "\n";
    for (const auto& m : t.members)
        if (!is_section(m.value) && !is_comment(m.value)) out += key_text(m.key) + " = " + toml_value(m.value) + "\n";
    for (const auto& m : t.members) {
        if (!is_section(m.value)) continue;
        std::string sub = path.empty() ? key_text(m.key) : path + "." + key_text(m.key);
        bool direct = false;
        bool has_sections = false;
        for (const auto& c : m.value.members) {
            if (is_section(c.value)) has_sections = true;
            else direct = true;
        }
        if (direct || !has_sections) out += "\n[" + sub + "]\n";
        write_table(out, m.value, sub);
    }
}

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += ch;
            }
        }
    }
    return out + "\"";
}

void write_json(std::string& out, const Node& n, bool pretty, int depth) {
    auto newline = [&](int d) {
        if (pretty) out += "\n" + std::string(static_cast<std::size_t>(d) * 2, ' ');
    };
    switch (n.type) {
    case Node::Type::string:
    case Node::Type::datetime: out += json_string(n.str); return;
    case Node::Type::integer: out += std::to_string(n.integer); return;
    case Node::Type::floating: out += std::isfinite(n.floating) ? float_text(n.floating) : "null"; return;
    case Node::Type::boolean: out += n.boolean ? "true" : "false"; return;
    case Node::Type::array:
        out += "[";
        for (std::size_t i = 0; i < n.items.size(); ++i) {
            if (i) out += ",";
            newline(depth + 1);
            write_json(out, n.items[i], pretty, depth + 1);
        }
        if (!n.items.empty()) newline(depth);
        out += "]";
        return;
    case Node::Type::table: {
        out += "{";
        bool first = true;
        for (const auto& m : n.members) {
            if (is_comment(m.value)) continue;
            if (!first) out += ",";
            first = false;
            newline(depth + 1);
            out += json_string(m.key) + (pretty ? ": " : ":");
            write_json(out, m.value, pretty, depth + 1);
        }
        if (!first) newline(depth);
        out += "}";
        return;
    }
    case Node::Type::comment: out += "null"; return;
    }
}

}  // namespace

std::string toml_value(const Node& n) {
    switch (n.type) {
    case Node::Type::string: return quote(n.str, 0);
    case Node::Type::integer: return std::to_string(n.integer);
    case Node::Type::floating: return float_text(n.floating);
    case Node::Type::boolean: return n.boolean ? "true" : "false";
    case Node::Type::datetime: return n.str;
    case Node::Type::array: {
        std::string out = "[";
        for (std::size_t i = 0; i < n.items.size(); ++i) out += (i ? ", " : "") + toml_value(n.items[i]);
        return out + "]";
    }
    case Node::Type::table: {
        std::string out;
        for (const auto& m : n.members) {
            if (is_comment(m.value)) continue;
            out += (out.empty() ? "{ " : ", ") + key_text(m.key) + " = " + toml_value(m.value);
        }
        return out.empty() ? "{}" : out + " }";
    }
    case Node::Type::comment: return "\"\"";
    }
    return "\"\"";
}

std::string to_toml(const Node& doc) {
    std::string out;
    write_table(out, doc, "");
    return out;
}

std::string to_json(const Node& doc, bool pretty) {
    std::string out;
    write_json(out, doc, pretty, 0);
    if (pretty) out += "\n";
    return out;
}

Node to_node(const std::vector<Diagnostic>& ds) {
    Node arr = make_array();
    for (const auto& d : ds) {
        Node t = make_table();
        add(t, "severity", make_string(d.is_error() ? "error" : "warning"));
        add(t, "file", make_string(d.file));
        add(t, "line", make_integer(d.line));
        add(t, "column", make_integer(d.column));
        add(t, "key", make_string(d.key));
        add(t, "message", make_string(d.message));
        add(t, "hint", make_string(d.hint));
        arr.items.push_back(std::move(t));
    }
    return arr;
}

}  // namespace reins::config
