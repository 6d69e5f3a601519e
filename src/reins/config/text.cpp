#include "reins/config/text.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace reins::config {

std::size_t utf8_sequence(std::string_view text) noexcept {
    if (text.empty()) return 0;
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char b0 = byte(0);
    if (b0 < 0x80) return 1;
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) n = 2;
    else if (b0 == 0xE0) n = 3, lo = 0xA0;  // no overlong forms
    else if (b0 == 0xED) n = 3, hi = 0x9F;  // no surrogates
    else if (b0 >= 0xE1 && b0 <= 0xEF) n = 3;
    else if (b0 == 0xF0) n = 4, lo = 0x90;
    else if (b0 == 0xF4) n = 4, hi = 0x8F;  // nothing past U+10FFFF
    else if (b0 >= 0xF1 && b0 <= 0xF3) n = 4;
    else return 0;
    if (text.size() < n || byte(1) < lo || byte(1) > hi) return 0;
    for (std::size_t i = 2; i < n; ++i)
        if ((byte(i) & 0xC0) != 0x80) return 0;
    return n;
}

bool is_utf8(std::string_view text) noexcept {
    while (!text.empty()) {
        std::size_t n = utf8_sequence(text);
        if (n == 0) return false;
        text.remove_prefix(n);
    }
    return true;
}

namespace {

std::string quoted(std::string_view text, std::size_t max, bool escape_non_utf8) {
    bool cut = max != 0 && text.size() > max;
    if (cut) {
        text = text.substr(0, max);
        // Never end inside a UTF-8 sequence.
        while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) text.remove_suffix(1);
        if (!text.empty() && static_cast<unsigned char>(text.back()) >= 0xC0) text.remove_suffix(1);
    }
    std::string out = "\"";
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char ch = text[i];
        auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        default:
            if (c < 0x20 || c == 0x7F) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04X", c);
                out += buf;
            } else if (c >= 0x80 && escape_non_utf8) {
                if (std::size_t n = utf8_sequence(text.substr(i)); n > 0) {
                    out.append(text.substr(i, n));
                    i += n - 1;
                } else {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\x%02x", c);
                    out += buf;
                }
            } else {
                out += ch;
            }
        }
    }
    if (cut) out += "\xE2\x80\xA6";  // …
    out += '"';
    return out;
}

}  // namespace

std::string quote(std::string_view text, std::size_t max) { return quoted(text, max, false); }

std::string quote_bytes(std::string_view text, std::size_t max) { return quoted(text, max, true); }

std::size_t edit_distance(std::string_view a, std::string_view b) {
    // Optimal string alignment: insertions, deletions, substitutions and
    // swaps of neighbours ("restrat" is one edit from "restart").
    const std::size_t n = a.size(), m = b.size();
    std::vector<std::size_t> prev2(m + 1), prev(m + 1), cur(m + 1);
    for (std::size_t j = 0; j <= m; ++j) prev[j] = j;
    auto low = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
    for (std::size_t i = 1; i <= n; ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= m; ++j) {
            std::size_t cost = low(a[i - 1]) == low(b[j - 1]) ? 0 : 1;
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
            if (i > 1 && j > 1 && low(a[i - 1]) == low(b[j - 2]) && low(a[i - 2]) == low(b[j - 1]))
                cur[j] = std::min(cur[j], prev2[j - 2] + 1);
        }
        prev2.swap(prev);
        prev.swap(cur);
    }
    return prev[m];
}

std::string closest(std::string_view word, const std::vector<std::string_view>& candidates) {
    std::string_view best;
    std::size_t best_d = ~std::size_t{0};
    const std::size_t limit = word.size() <= 4 ? 1 : 2;
    auto prefix = [](std::string_view a, std::string_view b) {
        return a.size() >= 3 && b.size() > a.size() && edit_distance(a, b.substr(0, a.size())) == 0;
    };
    for (auto c : candidates) {
        std::size_t d = edit_distance(word, c);
        // A prefix of 3 letters or more is close too: "depends" → "depends_on".
        if (d > limit && (prefix(word, c) || prefix(c, word))) d = limit;
        if (d <= limit && d < best_d) {
            best = c;
            best_d = d;
        }
    }
    return std::string(best);
}

bool is_env_name(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return c == '_' || std::isalnum(static_cast<unsigned char>(c)) != 0;
    });
}

}  // namespace reins::config
