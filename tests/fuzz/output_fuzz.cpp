// libFuzzer target for what a service sends reins: its output lines and its
// sd_notify datagrams, which are bytes, not text.
//
// Input: 1 control byte, then the data.
//   control & 1 == 0: the data is an sd_notify datagram (parse_notify_message);
//   control & 1 == 1: the data is "PATTERN\nLINE": a ready.log pattern (as a
//                     user may write it) matched against an arbitrary line.
// Checked on every input:
//   - parsing never crashes; a datagram with a NUL byte is refused whole;
//   - the STATUS= text, and any line, turned into JSON text is valid UTF-8
//     that parses back (json_text never throws);
//   - matching is bounded (RE2: no recursion, no backtracking): nothing
//     crashes, leaks or hits UB (ASan + UBSan), also for long lines.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "reins/http/json_text.hpp"
#include "reins/supervisor/log_pattern.hpp"
#include "reins/supervisor/notify_message.hpp"

namespace {

void check(bool ok) {
    if (!ok) std::abort();  // libFuzzer reports the input
}

// Its JSON text parses back: valid UTF-8, whatever the bytes were.
void json_round_trip(std::string_view bytes) {
    nlohmann::json j = {{"text", std::string(bytes)}};
    std::string text = reins::http::json_text(j);
    auto back = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    check(!back.is_discarded());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const uint8_t control = data[0];
    std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    if ((control & 1) == 0) {
        auto msg = reins::supervisor::parse_notify_message(rest);
        if (rest.find('\0') != std::string_view::npos) check(!msg.has_value());
        if (msg && msg->status) json_round_trip(*msg->status);
        if (msg && msg->main_pid) check(*msg->main_pid > 1);
        return 0;
    }
    auto nl = rest.find('\n');
    std::string_view pattern = rest.substr(0, nl);
    std::string_view line = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    json_round_trip(line);
    auto compiled = reins::supervisor::LogPattern::compile(pattern);
    if (!compiled) {
        check(!compiled.error().message().empty());
        return 0;
    }
    (void)compiled->found_in(line);
    return 0;
}
