#include "reins/config/document.hpp"

#include <cctype>
#include <cstdio>

#include "reins/config/text.hpp"

namespace reins::config {

const Member* Node::member(std::string_view key) const {
    for (const auto& m : members)
        if (m.key == key) return &m;
    return nullptr;
}

const Node* Node::find(std::string_view key) const {
    const Member* m = member(key);
    return m ? &m->value : nullptr;
}

std::string describe(const Node& n) {
    switch (n.type) {
    case Node::Type::string: return "string " + quote(n.str);
    case Node::Type::integer: return "integer " + std::to_string(n.integer);
    case Node::Type::floating: {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%g", n.floating);
        return std::string("float ") + buf;
    }
    case Node::Type::boolean: return std::string("boolean ") + (n.boolean ? "true" : "false");
    case Node::Type::datetime: return "date-time " + n.str;
    case Node::Type::array: return n.items.empty() ? "an empty array" : "an array";
    case Node::Type::table: return n.members.empty() ? "an empty table" : "a table";
    case Node::Type::comment: return "a comment";
    }
    return "a value";
}

std::string key_text(std::string_view key) {
    bool bare = !key.empty();
    for (char c : key)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) bare = false;
    return bare ? std::string(key) : quote(key, 0);
}

}  // namespace reins::config
