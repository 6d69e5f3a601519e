// json_text: the one way reins turns JSON into text (API replies, the events
// stream, state.json, the lock file, request bodies, `--json` output).
//
// A service's output, its STATUS= texts and the names people type are bytes,
// not necessarily UTF-8; nlohmann's dump() throws type_error.316 on such a
// string by default. Thrown inside a coroutine, that killed whatever task was
// writing (a service stuck in `stopping`, an events stream cut short, an
// aborted CLI). Here bad bytes become U+FFFD instead: every JSON text reins
// writes is valid UTF-8 and writing it never throws. It lives in the http
// layer because that is the lowest one that speaks JSON.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace reins::http {

/// `j` as JSON text: compact (indent < 0) or pretty-printed with `indent`
/// spaces; bytes that are not UTF-8 replaced with U+FFFD. Never throws
/// (short of running out of memory).
std::string json_text(const nlohmann::json& j, int indent = -1);

}  // namespace reins::http
