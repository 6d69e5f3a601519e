// The one translation unit that includes toml++ (docs/design.md, Layers): TOML text →
// Node tree with source positions. Everything else works on Nodes.
#include <algorithm>
#include <climits>
#include <sstream>

#include <toml++/toml.h>

#include "reins/config/document.hpp"

namespace reins::config {
namespace {

Pos pos_of(const toml::source_region& r) {
    auto clamp = [](auto v) { return static_cast<int>(std::min<uint64_t>(v, INT_MAX)); };
    return Pos{clamp(r.begin.line), clamp(r.begin.column)};
}

bool before(const Pos& a, const Pos& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
}

/// Converts `n` and frees toml++'s copy as it goes, so that the Node tree
/// reuses that memory: a 1000-service file then costs one tree's worth of
/// fresh pages, not two (page faults dominate a cold load).
Node convert(toml::node& n) {
    Node out;
    out.pos = pos_of(n.source());
    if (auto* t = n.as_table()) {
        out.type = Node::Type::table;
        out.inline_table = t->is_inline();
        // toml++ keeps a table's keys sorted by name; the file's order is
        // what people expect back (services listed as written). Sort the
        // entries, not the converted values, which are larger to move.
        struct Entry {
            Pos pos;
            toml::table::iterator it;
        };
        std::vector<Entry> order;
        order.reserve(t->size());
        for (auto it = t->begin(); it != t->end(); ++it) order.push_back(Entry{pos_of(it->first.source()), it});
        auto by_pos = [](const Entry& a, const Entry& b) { return before(a.pos, b.pos); };
        if (!std::is_sorted(order.begin(), order.end(), by_pos)) std::sort(order.begin(), order.end(), by_pos);
        out.members.reserve(order.size());
        for (const auto& e : order) {
            out.members.push_back(Member{std::string(e.it->first.str()), e.pos, convert(e.it->second)});
            t->erase(e.it);  // the other entries' iterators stay valid (a map)
        }
        // A table made implicitly (`[service.api]` makes `service`) has no
        // header: point at its first key.
        if (out.pos.line == 0 && !out.members.empty()) out.pos = out.members.front().key_pos;
    } else if (auto* a = n.as_array()) {
        out.type = Node::Type::array;
        out.items.reserve(a->size());
        for (auto&& v : *a) out.items.push_back(convert(v));
        a->clear();
    } else if (auto* s = n.as_string()) {
        out.type = Node::Type::string;
        out.str = std::move(s->get());
    } else if (auto* i = n.as_integer()) {
        out.type = Node::Type::integer;
        out.integer = i->get();
    } else if (auto* f = n.as_floating_point()) {
        out.type = Node::Type::floating;
        out.floating = f->get();
    } else if (auto* b = n.as_boolean()) {
        out.type = Node::Type::boolean;
        out.boolean = b->get();
    } else {
        out.type = Node::Type::datetime;
        std::ostringstream text;
        if (auto* d = n.as_date()) text << d->get();
        else if (auto* tm = n.as_time()) text << tm->get();
        else if (auto* dt = n.as_date_time()) text << dt->get();
        out.str = text.str();
    }
    return out;
}

}  // namespace

ParsedToml parse_toml(std::string_view text, const std::string& file) {
    ParsedToml out;
#if TOML_EXCEPTIONS
    try {
        toml::table table = toml::parse(text, std::string_view(file));
        out.root = convert(table);
        out.root.pos = Pos{1, 1};
    } catch (const toml::parse_error& e) {
        Diagnostic d;
        d.file = file;
        d.line = pos_of(e.source()).line;
        d.column = pos_of(e.source()).column;
        d.message = "TOML syntax error: " + std::string(e.description());
        out.error = std::move(d);
    }
#else
    toml::parse_result r = toml::parse(text, std::string_view(file));
    if (r) {
        out.root = convert(r.table());
        out.root.pos = Pos{1, 1};
    } else {
        Diagnostic d;
        d.file = file;
        d.line = pos_of(r.error().source()).line;
        d.column = pos_of(r.error().source()).column;
        d.message = "TOML syntax error: " + std::string(r.error().description());
        out.error = std::move(d);
    }
#endif
    return out;
}

}  // namespace reins::config
