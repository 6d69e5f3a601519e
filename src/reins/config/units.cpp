#include "reins/config/units.hpp"

#include <array>
#include <cctype>
#include <optional>

#include "reins/config/text.hpp"

namespace reins::config {
namespace {

constexpr uint64_t kMaxMs = static_cast<uint64_t>(max_duration.count());

/// "12.5" read from the front of `s`: whole part, fraction and its digits.
struct Decimal {
    uint64_t whole = 0;
    uint64_t frac = 0;
    int frac_digits = 0;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// Reads a decimal from the front of `s` (advancing it); nullopt if there is
/// none or it is too long to be meant (more than 15 digits, 6 decimals).
std::optional<Decimal> read_decimal(std::string_view& s) {
    Decimal d;
    std::size_t i = 0, digits = 0;
    while (i < s.size() && is_digit(s[i])) {
        if (++digits > 15) return std::nullopt;
        d.whole = d.whole * 10 + static_cast<uint64_t>(s[i] - '0');
        ++i;
    }
    if (digits == 0) return std::nullopt;
    if (i < s.size() && s[i] == '.') {
        ++i;
        std::size_t start = i;
        while (i < s.size() && is_digit(s[i])) {
            if (d.frac_digits == 6) return std::nullopt;
            d.frac = d.frac * 10 + static_cast<uint64_t>(s[i] - '0');
            ++d.frac_digits;
            ++i;
        }
        if (i == start) return std::nullopt;  // "5.s"
    }
    s.remove_prefix(i);
    return d;
}

/// d × mult if it is a whole number not above `limit`.
enum class Scale { ok, fraction, too_big };
Scale scale(const Decimal& d, uint64_t mult, uint64_t limit, uint64_t& out) {
    uint64_t pow10 = 1;
    for (int i = 0; i < d.frac_digits; ++i) pow10 *= 10;
    // frac < 10^6 and mult <= 10^12 or 2^40: the product fits in 64 bits.
    if ((d.frac * mult) % pow10 != 0) return Scale::fraction;
    if (d.whole != 0 && mult > limit / d.whole) return Scale::too_big;
    uint64_t v = d.whole * mult;
    uint64_t f = d.frac * mult / pow10;
    if (v > limit - f) return Scale::too_big;
    out = v + f;
    return Scale::ok;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

struct Unit {
    std::string_view name;
    uint64_t mult;
};

// Longest names first so that "ms" is not read as "m" + "s".
constexpr std::array<Unit, 4> kDurationUnits{{{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}}};

/// What a person probably meant by "5 seconds", "2 min", "1 day": "5s", "2m", "24h".
std::string duration_suggestion(std::string_view text) {
    std::string_view s = trim(text);
    auto d = read_decimal(s);
    if (!d) return {};
    std::string word = lower(trim(s));
    std::string number(trim(text).substr(0, trim(text).size() - s.size()));
    struct Alias {
        std::string_view unit;
        std::array<std::string_view, 6> words;
    };
    static constexpr std::array<Alias, 4> aliases{{
        {"ms", {"ms", "msec", "msecs", "millisecond", "milliseconds", "millis"}},
        {"s", {"s", "sec", "secs", "second", "seconds", "sek"}},
        {"m", {"m", "min", "mins", "minute", "minutes", "mn"}},
        {"h", {"h", "hr", "hrs", "hour", "hours", "hs"}},
    }};
    for (const auto& a : aliases)
        for (auto w : a.words)
            if (word == w) return number + std::string(a.unit);
    if (word == "d" || word == "day" || word == "days") {
        if (d->frac_digits == 0 && d->whole <= 365) return std::to_string(d->whole * 24) + "h";
    }
    return {};
}

Failure duration_error(std::string_view text, std::string_view why) {
    std::string msg = "expected a duration like \"250ms\", \"5s\", \"2m\" or \"1h\", found " + quote(text);
    if (!why.empty()) msg += "; " + std::string(why);
    return fail(Errc::config, std::move(msg));
}

}  // namespace

Result<Millis> parse_duration(std::string_view text) {
    std::string_view s = trim(text);
    if (s == "0") return Millis{0};
    if (!s.empty() && s.front() == '-') return duration_error(text, "a duration cannot be negative");
    if (s.empty()) return duration_error(text, {});
    uint64_t total = 0;
    bool plain = true;  // only a number so far
    while (!s.empty()) {
        auto d = read_decimal(s);
        if (!d) break;
        const Unit* unit = nullptr;
        for (const auto& u : kDurationUnits)
            if (s.substr(0, u.name.size()) == u.name) {
                unit = &u;
                break;
            }
        if (!unit) {
            plain = plain && s.empty();
            break;
        }
        plain = false;
        s.remove_prefix(unit->name.size());
        uint64_t part = 0;
        switch (scale(*d, unit->mult, kMaxMs, part)) {
        case Scale::fraction: return duration_error(text, "durations have millisecond resolution");
        case Scale::too_big: return duration_error(text, "a duration is at most 8760h (365 days)");
        case Scale::ok: break;
        }
        if (part > kMaxMs - total) return duration_error(text, "a duration is at most 8760h (365 days)");
        total += part;
        if (s.empty()) return Millis{static_cast<int64_t>(total)};
    }
    if (plain && s.empty()) {
        return duration_error(text, "a duration needs a unit: write \"" + std::string(trim(text)) + "s\" or \"" +
                                        std::string(trim(text)) + "ms\"");
    }
    if (auto hint = duration_suggestion(text); !hint.empty())
        return duration_error(text, "did you mean \"" + hint + "\"?");
    return duration_error(text, {});
}

std::string format_duration(Millis d) {
    auto ms = d.count();
    if (ms == 0) return "0s";
    if (ms < 0) return "-" + format_duration(Millis{-ms});
    if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
    if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

namespace {

constexpr std::array<Unit, 10> kSizeUnits{{
    {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}, {"TiB", 1ull << 40},
    {"KB", 1000}, {"kB", 1000}, {"MB", 1'000'000}, {"GB", 1'000'000'000}, {"TB", 1'000'000'000'000},
    {"B", 1},
}};

Failure size_error(std::string_view text, std::string_view why) {
    std::string msg = "expected a size like \"512KiB\", \"10MiB\", \"1GiB\", \"10MB\" or a number of bytes, found " +
                      quote(text);
    if (!why.empty()) msg += "; " + std::string(why);
    return fail(Errc::config, std::move(msg));
}

}  // namespace

Result<uint64_t> parse_size(std::string_view text) {
    std::string_view s = trim(text);
    if (!s.empty() && s.front() == '-') return size_error(text, "a size cannot be negative");
    auto d = read_decimal(s);
    if (!d) return size_error(text, {});
    std::string_view unit_text = s;
    uint64_t mult = 0;
    if (unit_text.empty()) {
        mult = 1;
    } else {
        for (const auto& u : kSizeUnits)
            if (unit_text == u.name) mult = u.mult;
    }
    if (mult == 0) {
        // "10 MiB", "10mib", "10 mb": say which unit was meant.
        std::string want = lower(trim(unit_text));
        for (const auto& u : kSizeUnits) {
            if (lower(u.name) == want) {
                std::string number(trim(text).substr(0, trim(text).size() - s.size()));
                return size_error(text, "did you mean \"" + number + std::string(u.name) + "\"?");
            }
        }
        return size_error(text, "unknown unit '" + std::string(trim(unit_text)) +
                                    "' (units: B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)");
    }
    uint64_t out = 0;
    switch (scale(*d, mult, max_size, out)) {
    case Scale::fraction: return size_error(text, "a size is a whole number of bytes");
    case Scale::too_big: return size_error(text, "a size is at most 1024TiB");
    case Scale::ok: break;
    }
    return out;
}

std::string format_size(uint64_t bytes) {
    if (bytes == 0) return "0";
    for (const auto& u : {Unit{"TiB", 1ull << 40}, Unit{"GiB", 1ull << 30}, Unit{"MiB", 1ull << 20},
                          Unit{"TB", 1'000'000'000'000}, Unit{"GB", 1'000'000'000}, Unit{"MB", 1'000'000},
                          Unit{"KiB", 1ull << 10}, Unit{"KB", 1000}}) {
        if (bytes % u.mult == 0) return std::to_string(bytes / u.mult) + std::string(u.name);
    }
    return std::to_string(bytes);
}

}  // namespace reins::config
