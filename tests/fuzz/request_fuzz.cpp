// libFuzzer target for the server's request path, without sockets: the
// connection's Exchange (RequestParser + llhttp + limits) fed arbitrary
// bytes in arbitrary pieces, then what the connection does with each
// request: dispatch (peer check, Router) and the serialized answer.
//
// Input: 2 control bytes (limits and flags, split seed), then the bytes a
// client sends. Checked on every input:
//   - limits hold on every request that comes out (body, no NUL in the
//     decoded path or query), and a refusal is one of 400/413/431/501;
//   - feeding the bytes whole or in pieces gives the same requests and the
//     same ending (split invariance);
//   - an answer built from request data (headers echoed back) is framed
//     exactly once: one blank line, a Content-Length that matches;
//   - nothing crashes, leaks or hits UB (ASan + UBSan).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "reins/http/connection.hpp"

using reins::PeerCredentials;
using reins::Task;
using namespace reins::http;
namespace hd = reins::http::detail;
using hd::Exchange;

namespace {

void check(bool ok) {
    if (!ok) std::abort();  // libFuzzer reports the input
}

// Never run: the fuzzer exercises routing, not handlers. Not coroutines
// either: clang 14 with the sanitizers cannot compile coroutines at -O0
// ("Cannot represent a difference across sections").
Task<Response> never(Request, std::stop_token) { return {}; }
Task<void> never_stream(Request, ResponseStream, std::stop_token) { return {}; }

const Router& router() {
    static const Router r = [] {
        Router x;
        x.add("GET", "/v1/status", never);
        x.add("POST", "/v1/services/{name}/restart", never);
        x.add("GET", "/v1/services/{name}", never);
        x.add("GET", "/v1/services/all", never);
        x.add_stream("GET", "/v1/events", never_stream);
        x.add_stream("GET", "/v1/logs/{name}", never_stream);
        return x;
    }();
    return r;
}

struct Outcome {
    std::vector<std::string> requests;  // one summary per request
    int refusal = 0;                    // the status of a reject, if any
    bool closed = false;
};

std::string summary(const ParsedRequest& p) {
    const Request& r = p.request;
    std::string s = r.method + '\n' + r.target + '\n' + r.path + '\n';
    for (const auto& [k, v] : r.query) s += k + '=' + v + '&';
    s += '\n';
    for (const Header& h : r.headers) s += h.name + ':' + h.value + '\n';
    s += r.body;
    s += p.keep_alive ? "\nka" : "\nclose";
    s += p.http_1_0 ? "/1.0" : "/1.1";
    return s;
}

// What the connection would send back for `p` (handler answers stand in as
// an echo of the request's headers and body, to test framing and sanitising).
void answer(ParsedRequest& p, const ServerOptions& options, bool check_peer) {
    std::optional<PeerCredentials> peer;
    if (check_peer) peer = PeerCredentials{4242, 1000, 1000};
    const bool head = p.request.method == "HEAD";
    hd::Dispatch d = hd::dispatch(router(), options, check_peer, peer, p.request);
    Response r = d.response;
    if (d.kind != hd::Dispatch::Kind::respond) {
        r = Response::text(p.request.body, 200);
        r.headers = p.request.headers;  // request data straight back, framing headers included
        for (const auto& [k, v] : p.request.params) r.headers.push_back({k, v});
    }
    bool keep = p.keep_alive && !d.close && !hd::wants_close(r.headers);
    std::string out = hd::serialize_response(r, {keep, p.http_1_0, head});
    std::size_t end = out.find("\r\n\r\n");
    check(end != std::string::npos);
    std::string_view headers(out.data(), end + 2);
    // Every line ends with CRLF; no bare CR or LF slipped in from request data.
    for (std::size_t i = 0; i < headers.size(); ++i) {
        if (headers[i] == '\r') check(i + 1 < headers.size() && headers[i + 1] == '\n');
        if (headers[i] == '\n') check(i > 0 && headers[i - 1] == '\r');
    }
    std::string_view body(out.data() + end + 4, out.size() - end - 4);
    if (!head) check(body == r.body);
    check(headers.find("Content-Length: " + std::to_string(r.body.size()) + "\r\n") != std::string_view::npos);
    std::string stream = hd::serialize_stream_head(r.status, r.headers, {keep, p.http_1_0, false});
    check(stream.find("\r\n\r\n") == stream.size() - 4);
    check(hd::encode_chunk(p.request.body).size() > p.request.body.size());
}

Outcome run(std::string_view input, const RequestLimits& limits, std::size_t step, const ServerOptions& options,
            bool check_peer, bool respond) {
    Outcome o;
    Exchange ex(limits);
    std::size_t pos = 0;
    for (;;) {
        Exchange::Next n = ex.next();
        using Kind = Exchange::Next::Kind;
        if (n.kind == Kind::need_more) {
            if (pos >= input.size()) break;
            std::size_t k = std::min(step, input.size() - pos);
            ex.append(input.substr(pos, k));
            pos += k;
            continue;
        }
        if (n.kind == Kind::reject) {
            int s = n.error.status;
            check(s == 400 || s == 413 || s == 431 || s == 501);
            check(!n.error.reason.empty());
            o.refusal = s;
            break;
        }
        if (n.kind == Kind::closed) {
            o.closed = true;
            break;
        }
        const Request& r = n.request.request;
        check(r.body.size() <= limits.max_body);
        check(r.path.find('\0') == std::string::npos);
        for (const auto& [k, v] : r.query) check(k.find('\0') == std::string::npos && v.find('\0') == std::string::npos);
        for (const Header& h : r.headers) check(!h.name.empty());
        o.requests.push_back(summary(n.request));
        if (respond) answer(n.request, options, check_peer);
    }
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::uint8_t flags = data[0];
    const std::uint8_t seed = data[1];
    std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);

    RequestLimits limits;
    if (flags & 1) limits.max_head = 64 + (seed & 0x3f) * 8;
    if (flags & 2) limits.max_body = seed & 0x7f;
    ServerOptions options;
    options.limits = limits;
    if (flags & 4) options.allow_peer = [](const PeerCredentials& p) { return p.uid == 0; };
    const bool check_peer = (flags & 8) != 0;
    const std::size_t step = 1 + seed % 13;

    Outcome whole = run(input, limits, input.size() + 1, options, check_peer, true);
    Outcome split = run(input, limits, step, options, check_peer, false);
    check(whole.requests == split.requests);
    check(whole.refusal == split.refusal);
    check(whole.closed == split.closed);
    return 0;
}
