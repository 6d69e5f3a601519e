// What a service name may be. Names become file names (logs/NAME.log,
// pids/NAME.pid), path segments of the control API and CLI arguments, and
// travel in JSON: so the rule is narrow and ASCII — 1-64 letters, digits,
// '-', '_' or '.', starting with a letter or digit. The config's
// [service.NAME] keys, `--name`, and every name a command or an API request
// names are held to it.
#pragma once

#include <string_view>

#include "reins/async/result.hpp"

namespace reins::config {

/// The rule, for messages: "1-64 letters, digits, '-', '_' or '.', starting
/// with a letter or digit".
extern const std::string_view service_name_rule;

/// True for a valid service name.
bool is_service_name(std::string_view name);

/// Nothing for a valid name; else Errc::config with the context
/// `invalid service name "NAME" (a service name is RULE)`, NAME escaped
/// (control characters and bytes that are not UTF-8 as \t, \xFF...) and
/// cut after 60 bytes: a message never carries raw bytes.
Result<void> check_service_name(std::string_view name);

}  // namespace reins::config
