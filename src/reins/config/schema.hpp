// Internal: the known keys of each table, for the unknown-key check
// (docs/config.md, Errors: unknown keys are errors, with the closest known
// key suggested).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reins/config/document.hpp"
#include "reins/config/reader.hpp"

namespace reins::config::detail {

/// A table's known keys; a key with a `child` is itself a table (when it is
/// written as one). `open` tables take any key (env, depends_on); `each`
/// gives every member the same schema ([service.NAME]).
struct Schema {
    struct Key {
        std::string_view name;
        const Schema* child = nullptr;
    };
    std::vector<Key> keys;
    bool open = false;
    const Schema* each = nullptr;
};

/// version 1: the document, a service ([defaults] too), [supervisor].
const Schema& v1_schema();
const Schema& service_schema();
/// The legacy single-server format.
const Schema& legacy_schema();

/// Reports every key of `table` (recursively) that `schema` does not know,
/// at the key's position, with the closest known key or the list of keys.
/// `path` is the table's key path ("" for the document).
void check_unknown_keys(Checker& c, const Node& table, const Schema& schema, const std::string& path);

}  // namespace reins::config::detail
