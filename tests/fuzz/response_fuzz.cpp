// libFuzzer target for the probe client's response path: ResponseParser
// (llhttp plus reins' limits) fed arbitrary bytes in arbitrary pieces.
//
// Input: 4 control bytes (limits, flags, split seed), then the response.
// Checked on every input:
//   - limits hold on whatever the parser returns;
//   - feeding the same bytes whole or in pieces ends in the same state, and a
//     complete response is the same response (split invariance);
//   - a failure always has a description; nothing crashes, leaks or hits UB
//     (ASan + UBSan).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "reins/http/response_parser.hpp"

using reins::http::ClientResponse;
using reins::http::ResponseParser;
using reins::http::ResponseParserOptions;

namespace {

void check(bool ok) {
    if (!ok) std::abort();  // libFuzzer reports the input
}

bool same(const ClientResponse& a, const ClientResponse& b) {
    if (a.status != b.status || a.reason != b.reason || a.body != b.body || a.headers.size() != b.headers.size())
        return false;
    for (std::size_t i = 0; i < a.headers.size(); ++i)
        if (a.headers[i].name != b.headers[i].name || a.headers[i].value != b.headers[i].value) return false;
    return true;
}

void check_limits(const ResponseParser& p, const ResponseParserOptions& o) {
    const ClientResponse& r = p.response();
    check(r.headers.size() <= o.max_headers);
    check(r.body.size() <= o.max_body);
    check(r.reason.size() <= o.max_head);
    if (p.state() == ResponseParser::State::failed) check(!p.describe_failure().empty());
    if (p.state() == ResponseParser::State::done) {
        check(p.head_complete());
        check(r.status >= 100 && r.status <= 999);
        if (o.headers_only || o.head_request) check(r.body.empty());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return 0;
    ResponseParserOptions o;
    // Small limits half of the time, so that the limit paths get exercised.
    if (data[0] & 1) {
        o.max_head = data[1];
        o.max_headers = data[0] >> 4;
        o.max_body = data[2];
    }
    o.head_request = (data[0] & 2) != 0;
    o.headers_only = (data[0] & 4) != 0;
    bool eof = (data[0] & 8) != 0;
    std::uint8_t seed = data[3];
    std::string_view bytes(reinterpret_cast<const char*>(data + 4), size - 4);

    ResponseParser whole(o);
    whole.feed(bytes);
    if (eof) whole.finish();
    check_limits(whole, o);

    // Pieces of 1..16 bytes, sized by a tiny LCG seeded from the input.
    ResponseParser split(o);
    std::size_t at = 0;
    unsigned x = seed;
    while (at < bytes.size()) {
        x = x * 1103515245u + 12345u;
        std::size_t n = 1 + ((x >> 16) % 16);
        split.feed(bytes.substr(at, n));
        at += n;
    }
    if (eof) split.finish();
    check_limits(split, o);

    check(whole.state() == split.state());
    if (whole.state() == ResponseParser::State::done) check(same(whole.response(), split.response()));

    // The parser is reusable after any input (with default limits: the fuzzed
    // ones may be too small for this response).
    whole.reset({});
    check(whole.feed("HTTP/1.1 204 No Content\r\n\r\n") == ResponseParser::State::done);
    return 0;
}
