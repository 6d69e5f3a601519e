// Node: a parsed TOML document as the config layer works on it — values
// with their source positions, table members in file order.
//
// Only load.cpp includes toml++: it turns toml++'s tree into Nodes, so that
// the rest of the layer (schema, validation, legacy format, output) compiles
// without it, and toml++'s heavy headers are paid for once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reins/config/diagnostic.hpp"

namespace reins::config {

/// A 1-based line and column (0: unknown).
struct Pos {
    int line = 0;
    int column = 0;
};

struct Member;

/// A TOML value (or, written only, a comment line) with its position.
struct Node {
    enum class Type : uint8_t {
        string, integer, floating, boolean, datetime, array, table,
        comment,  ///< output only: a "# str" line in a table (to_toml; JSON skips it)
    };

    Type type = Type::table;
    bool inline_table = false;    ///< a `{ ... }` table
    bool boolean = false;
    Pos pos;                      ///< where the value (or the table's header) starts
    int64_t integer = 0;
    double floating = 0;
    std::string str;              ///< string; a date-time's text; a comment
    std::vector<Node> items;      ///< array
    std::vector<Member> members;  ///< table, in file order

    bool is_table() const noexcept { return type == Type::table; }
    /// The member `key` of a table, or nullptr.
    const Node* find(std::string_view key) const;
    /// The member entry (key and position) of a table, or nullptr.
    const Member* member(std::string_view key) const;
};

/// A table entry: its key (with the key's own position) and value.
struct Member {
    std::string key;
    Pos key_pos;
    Node value;
};

/// "integer 30", "string \"5 seconds\"", "a table", "an array", "boolean true":
/// what was found, for "expected X, found Y".
std::string describe(const Node& n);

/// A key as it is written in a TOML key path: bare when it can be, quoted
/// otherwise ("api", "\"my.api\"").
std::string key_text(std::string_view key);

/// The result of parsing TOML text.
struct ParsedToml {
    Node root;                           ///< a table; empty when there is an error
    std::optional<Diagnostic> error;     ///< a syntax error, with toml++'s position
};

/// Parses TOML `text`; `file` names it in the diagnostic. Never throws.
ParsedToml parse_toml(std::string_view text, const std::string& file);

}  // namespace reins::config
