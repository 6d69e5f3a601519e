// Small text helpers shared by the config layer: quoting a value for a
// message (bytes that are not UTF-8 escaped, if asked), and finding the known word closest to a misspelt one.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace reins::config {

/// `text` as a TOML basic string ("a\"b"): control characters and quotes
/// escaped, non-ASCII bytes kept. Longer than `max` bytes: cut and
/// ended with "…" (max 0: never cut). For messages and for writing TOML.
std::string quote(std::string_view text, std::size_t max = 60);

/// As quote(), and every byte that is not part of valid UTF-8 shown as
/// \xHH: for messages about bytes that may be anything (a name typed on the
/// command line or sent to the API), so that a message never carries them raw.
std::string quote_bytes(std::string_view text, std::size_t max = 60);

/// The length of the valid UTF-8 sequence that starts `text` (1-4), or 0
/// when it does not start with one (a stray continuation byte, an overlong
/// form, a surrogate, a code point past U+10FFFF, a cut sequence).
std::size_t utf8_sequence(std::string_view text) noexcept;

/// True when `text` is valid UTF-8 throughout.
bool is_utf8(std::string_view text) noexcept;

/// The Damerau–Levenshtein (optimal string alignment) distance, ASCII
/// case-insensitive.
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word`, if it is close enough to be a typo
/// (distance 1 for words up to 4 letters, 2 beyond, or one is a prefix of
/// the other); empty otherwise.
std::string closest(std::string_view word, const std::vector<std::string_view>& candidates);

/// True for a name an environment variable can have: [A-Za-z_][A-Za-z0-9_]*.
bool is_env_name(std::string_view name);

}  // namespace reins::config
