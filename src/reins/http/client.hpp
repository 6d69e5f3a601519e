// The HTTP/1.1 client the probes use (ready.http, health.http, stop.pre,
// stop.http: docs/config.md): one request per connection, one
// deadline per request, no redirects, nothing but numeric addresses.
//
// One request costs a coroutine frame, a socket and its read buffer, one uv
// timer, a stop_source and the response itself: no thread, no DNS, no
// combinator frames (the deadline is a timer that requests stop on the
// request's own stop_source, which every step watches).
#pragma once

#include <chrono>
#include <cstddef>
#include <stop_token>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>

#include "reins/async/result.hpp"
#include "reins/async/task.hpp"
#include "reins/async/tcp.hpp"
#include "reins/http/message.hpp"
#include "reins/http/response_parser.hpp"

namespace reins::http {

/// Where a request goes: a TCP endpoint or the path of a Unix stream socket.
/// (Not an aggregate, like RequestOptions: g++ 12 double-destroys a
/// brace-initialised aggregate temporary passed to a coroutine inside a
/// co_await expression, e.g. `co_await request(t, "GET", "/", {})`.)
struct Target {
    std::variant<Endpoint, std::string> where;

    /// No destination yet (an empty endpoint).
    Target() = default;
    /// A TCP endpoint or a Unix socket path (prefer tcp() and unix_socket()).
    explicit Target(std::variant<Endpoint, std::string> w) : where(std::move(w)) {}
    /// A TCP endpoint (numeric; see parse_endpoint).
    static Target tcp(Endpoint ep) { return Target(ep); }
    /// A Unix stream socket at `path`.
    static Target unix_socket(std::string path) { return Target(std::move(path)); }

    bool is_unix() const noexcept { return where.index() == 1; }
    /// "127.0.0.1:8080", "[::1]:80", "unix:/run/reins.sock".
    std::string to_string() const;
    /// The Host header it implies: "127.0.0.1:8080", or "localhost" for a Unix socket.
    std::string host() const;
};

/// A probe URL split into where to connect and what to ask for.
struct Url {
    Target target;
    std::string path;  ///< with the query, without the fragment; "/" at least
};

/// Parses "http://127.0.0.1:8080/ready", "http://[::1]/x?y=1",
/// "http://localhost:9000", or a bare path "/ready" (which goes to
/// default_host:default_port). Hosts are numeric or localhost (no DNS at run
/// time); https, user info and other schemes are refused with UV_EINVAL and a
/// message naming the input.
Result<Url> parse_url(std::string_view url, std::string_view default_host = "127.0.0.1", int default_port = 80);

/// How to send one request.
struct RequestOptions {
    RequestOptions() = default;  // not an aggregate: see Target
    /// The whole request, from connect to the last byte: past it the request
    /// fails with Errc::timeout, however the server trickles.
    std::chrono::milliseconds timeout{1000};
    /// The most body bytes accepted (more: ClientErrc::body_too_large).
    std::size_t max_body = 64 * 1024;
    /// The most response head bytes (reason, header names and values).
    std::size_t max_head = 64 * 1024;
    /// false: return as soon as the status line and headers are in, without
    /// reading the body (probes only need the status).
    bool read_body = true;
    /// Extra request headers. Host may be overridden here; Connection,
    /// Content-Length and Transfer-Encoding are the client's own and are
    /// ignored if given.
    Headers headers;
    /// A request body (sent with Content-Length).
    std::string body;
};

/// How a request failed, when not by a libuv error (connect refused...),
/// Errc::timeout (the deadline) or Errc::cancelled (the stop token).
enum class ClientErrc {
    malformed_response = 1,  ///< not HTTP/1.x (the context quotes llhttp's reason)
    head_too_large,          ///< status line and headers over max_head or 100 lines
    body_too_large,          ///< body over max_body
    closed_early,            ///< the server closed (or reset) the connection before the end of the response
    invalid_request,         ///< a method, path or header the client refuses to send (CR, LF, spaces...)
};

/// The error category of ClientErrc ("reins.http").
const std::error_category& client_category() noexcept;
/// Lets `error.code == ClientErrc::closed_early` compare.
inline std::error_code make_error_code(ClientErrc e) noexcept { return {static_cast<int>(e), client_category()}; }

/// Sends `method path` to `target` with `Connection: close` and returns the
/// response (status, headers, body; 3xx is a result: redirects are not
/// followed). Every error's context names the request and what was missing:
/// "GET http://127.0.0.1:8080/ready: no status line within 1000ms"
/// (Errc::timeout), "...: connect" (the libuv error, e.g. ECONNREFUSED),
/// "...: malformed response (HPE_INVALID_CONSTANT: Expected HTTP/)"
/// (ClientErrc::malformed_response), Errc::cancelled on stop.
Task<Result<ClientResponse>> request(Target target, std::string method, std::string path,
                                     RequestOptions options = {}, std::stop_token stop = {});

}  // namespace reins::http

template <>
struct std::is_error_code_enum<reins::http::ClientErrc> : std::true_type {};
