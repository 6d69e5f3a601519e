// Writing a Config back out: as a version 1 TOML document (`reins check`
// prints every key with its effective value; `reins config migrate` writes
// only what differs from the defaults) and as JSON (`reins check --json`).
//
// Both go through a Node tree, so the TOML and the JSON have the same keys
// and values (durations as "5s", sizes as "10MiB"). The effective TOML of a
// valid config loads back to the same config.
#pragma once

#include <string>
#include <vector>

#include "reins/config/config.hpp"
#include "reins/config/document.hpp"

namespace reins::config {

/// Which keys to_document writes.
enum class EmitMode {
    effective,  ///< every key, defaults included; paths absolute
    minimal,    ///< only what differs from the defaults; paths relative to the file's folder
};

/// The config as a version 1 document.
Node to_document(const Config& cfg, EmitMode mode);

/// TOML text of a document (tables as [sections], comment members as "# " lines).
std::string to_toml(const Node& doc);

/// JSON text of a tree: tables become objects (in order), arrays arrays.
std::string to_json(const Node& doc, bool pretty = true);

/// One value in TOML syntax: 100, "x", [1, 2], { a = 1 }.
std::string toml_value(const Node& n);

/// Diagnostics as an array of tables (file, line, column, severity, key,
/// message, hint), for JSON output.
Node to_node(const std::vector<Diagnostic>& ds);

/// Builders for trees written in code.
Node make_string(std::string s);
Node make_integer(int64_t v);
Node make_bool(bool b);
Node make_table(bool inline_table = false);
Node make_array();
/// Appends member `key` to table `t`; returns the new value.
Node& add(Node& t, std::string key, Node value);
/// Appends a comment line to table `t` (written under its header by to_toml).
void note(Node& t, std::string text);

}  // namespace reins::config
