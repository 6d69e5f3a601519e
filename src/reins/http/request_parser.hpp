// RequestParser: HTTP/1.1 requests from a byte stream, with llhttp doing
// the parsing and reins enforcing the limits (docs/cli.md, Control API).
//
// Sans I/O: the connection feeds whatever bytes arrived and takes complete
// requests one at a time, so pipelined requests come out in order and the
// parser can be fuzzed without sockets. A request that breaks a rule never
// comes out: the parser fails with the status to answer (400, 413, 431,
// 501) and the connection is closed after that answer.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "reins/http/message.hpp"

namespace reins::http {

/// Size limits for one request.
struct RequestLimits {
    /// Request line and headers, in bytes (431 beyond).
    std::size_t max_head = 64 * 1024;
    /// The decoded body, in bytes (413 beyond; a larger Content-Length is
    /// refused before any of the body is read).
    std::size_t max_body = 64 * 1024;
};

/// A request the parser completed, with what the connection needs to answer it.
struct ParsedRequest {
    Request request;
    /// Another request may follow on this connection (HTTP/1.1 without
    /// "Connection: close", or HTTP/1.0 with "Connection: keep-alive"; never
    /// after an Upgrade or CONNECT, which reins does not speak).
    bool keep_alive = true;
    /// The client speaks HTTP/1.0: no chunked responses.
    bool http_1_0 = false;
};

/// Why a request was refused: the status to answer before closing, and a
/// short reason for the body ("invalid header token").
struct RequestError {
    int status = 400;
    std::string reason;
};

/// Parses one connection's requests. Movable, not copyable.
class RequestParser {
public:
    enum class State {
        need_more,  ///< feed more bytes
        ready,      ///< a request is complete: take() it
        failed,     ///< the input broke a rule: answer error() and close
        closed,     ///< the last request was not keep-alive: nothing more is read
    };

    explicit RequestParser(RequestLimits limits = {});
    ~RequestParser();
    RequestParser(RequestParser&&) noexcept;
    RequestParser& operator=(RequestParser&&) noexcept;
    RequestParser(const RequestParser&) = delete;
    RequestParser& operator=(const RequestParser&) = delete;

    /// Parses from the start of `data` and returns how many bytes it used.
    /// It stops after one complete request (ready: the rest of `data` is
    /// the next request, fed again after take()), at an error (failed), or
    /// when `data` is used up (need_more). Does nothing unless need_more.
    std::size_t feed(std::string_view data);

    State state() const noexcept;
    /// Some bytes of the current request have been seen (a timeout then
    /// deserves a 408 rather than a silent close).
    bool started() const noexcept;
    /// The request line and headers of the current request are complete.
    bool head_complete() const noexcept;
    /// The head asked for "Expect: 100-continue" and the body is still to come.
    bool expects_continue() const noexcept;
    /// The finished request (state ready); the parser then waits for the next one.
    ParsedRequest take();
    /// Why the input was refused (state failed).
    const RequestError& error() const noexcept;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

/// The raw path and query of a request target ("/a%20b?x=1" -> "/a%20b",
/// "x=1"). An absolute-form target ("http://host/p?q") gives its path; a
/// fragment is dropped.
struct TargetParts {
    std::string_view path;
    std::string_view query;
};
TargetParts split_target(std::string_view target);

/// %XX-decodes `s` ('+' becomes a space when `plus_is_space`, as in a
/// query). Nothing for a malformed escape or a NUL byte, which no path or
/// parameter may carry.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);

/// "n=100&follow=1" -> {n: 100, follow: 1}, decoded; a key without '=' maps
/// to "", the last of repeated keys wins. Nothing when an escape is malformed.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view query);

}  // namespace reins::http
