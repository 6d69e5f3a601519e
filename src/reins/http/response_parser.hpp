// ResponseParser: one HTTP/1.x response from bytes, with llhttp doing the
// parsing and reins doing the limits llhttp does not have (head and body size,
// header count).
//
// llhttp's types stay out of this header: the parser keeps llhttp_t and its
// llhttp_settings_t in storage of its own (checked against the real sizes at
// compile time in the .cpp), so that neither reins' installed headers nor its
// users need llhttp.h, and a parser costs no allocation of its own.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "reins/http/message.hpp"

namespace reins::http {

/// A response as the client received it.
struct ClientResponse {
    int status = 0;        ///< the final status code (1xx interim responses are skipped, except 101)
    std::string reason;    ///< the reason phrase as sent ("OK")
    Headers headers;       ///< in order; values without surrounding whitespace
    std::string body;      ///< de-chunked; empty when the body was not read
};

/// What the parser accepts and what it is told about the exchange.
struct ResponseParserOptions {
    std::size_t max_head = 64 * 1024;  ///< bytes of reason phrase, header names and values (trailers too)
    std::size_t max_headers = 100;     ///< header lines
    std::size_t max_body = 64 * 1024;  ///< de-chunked body bytes
    bool head_request = false;         ///< the answer to a HEAD: no body, whatever Content-Length says
    bool headers_only = false;         ///< done at the end of the headers; the body is never read
};

/// Parses one response fed in pieces of any size. Not movable (llhttp points
/// back at it). reset() makes it ready for another response, keeping the
/// capacity of what take() did not take.
class ResponseParser {
public:
    /// Where parsing stands after feed() or finish().
    enum class State {
        more,    ///< incomplete: feed more bytes (or finish() at end of stream)
        done,    ///< a complete response (or its head, with headers_only)
        failed,  ///< see failure()
    };
    /// Why parsing failed.
    enum class Failure {
        none,
        malformed,       ///< not HTTP/1.x as llhttp reads it (reason(): llhttp's words)
        head_too_large,  ///< over max_head or max_headers
        body_too_large,  ///< over max_body (declared or received)
        truncated,       ///< the stream ended before the response did
    };

    /// Ready for one response, within `options`.
    explicit ResponseParser(ResponseParserOptions options = {});
    ResponseParser(const ResponseParser&) = delete;
    ResponseParser& operator=(const ResponseParser&) = delete;

    /// Starts over for a new response.
    void reset(ResponseParserOptions options);

    /// Parses `bytes`. Bytes after the end of the response are ignored (the
    /// client sends `Connection: close`, so nothing may follow). Once done
    /// or failed, further calls change nothing.
    State feed(std::string_view bytes);
    /// The peer closed: completes a response delimited by the end of the
    /// stream, else fails with Failure::truncated.
    State finish();

    /// Where parsing stands.
    State state() const noexcept { return state_; }
    /// Why it failed (Failure::none unless state() is failed).
    Failure failure() const noexcept { return failure_; }
    /// llhttp's error name and reason for Failure::malformed
    /// ("HPE_INVALID_CONSTANT: Expected HTTP/"); static strings.
    const char* error_name() const noexcept { return error_name_; }
    /// See error_name().
    const char* reason() const noexcept { return reason_; }
    /// A sentence for an error message: "malformed response (HPE_...: ...)",
    /// "connection closed in the body after 10 of 20 bytes"...
    std::string describe_failure() const;

    /// True once the status line and headers of the final response are in.
    bool head_complete() const noexcept { return head_complete_; }
    /// Bytes fed so far (0: the peer has not said anything yet).
    std::size_t bytes_seen() const noexcept { return bytes_seen_; }

    /// The response so far (complete once state() is done).
    const ClientResponse& response() const noexcept { return response_; }
    /// Moves the response out.
    ClientResponse take() { return std::move(response_); }

private:
    struct Native;  // llhttp_t + llhttp_settings_t, defined in the .cpp
    struct Thunks;  // the static noexcept callbacks llhttp calls
    Native& native() noexcept;

    int on_status(const char* at, std::size_t n) noexcept;
    int on_header_field(const char* at, std::size_t n) noexcept;
    int on_header_value(const char* at, std::size_t n) noexcept;
    int on_header_value_complete() noexcept;
    int on_headers_complete() noexcept;
    int on_body(const char* at, std::size_t n) noexcept;
    int on_message_complete() noexcept;
    bool count_head(std::size_t n) noexcept;
    int fail_with(Failure f) noexcept;
    State after_execute(int err) noexcept;

    alignas(8) unsigned char native_[512];
    ResponseParserOptions options_;
    ClientResponse response_;
    State state_ = State::more;
    Failure failure_ = Failure::none;
    const char* error_name_ = "";
    const char* reason_ = "";
    std::size_t head_bytes_ = 0;
    std::size_t bytes_seen_ = 0;
    unsigned long long content_length_ = 0;  // declared, for messages; 0 when not declared
    bool has_content_length_ = false;
    bool head_complete_ = false;
    bool in_field_ = false;   // the last header callback was a name piece
    bool in_trailers_ = false;
};

}  // namespace reins::http
