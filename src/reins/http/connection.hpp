// Internals of the HTTP server's connections (not installed).
//
// The sans-I/O half (Exchange, dispatch, the wire format) turns bytes into
// decisions and responses into bytes without a socket, so tests and the
// request fuzzer drive it directly; the I/O half (read_request, send_all,
// linger_close, serve_stream) runs it over a Stream with deadlines.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "reins/async/stream.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/http/request_parser.hpp"
#include "reins/http/router.hpp"
#include "reins/http/server.hpp"

namespace reins::http::detail {

// ---- wire format ---------------------------------------------------------------

/// How a response is framed on this connection.
struct Framing {
    bool keep_alive = true;  ///< false: "Connection: close", then the server closes
    bool http_1_0 = false;   ///< the client speaks 1.0 ("Connection: keep-alive" when keeping it)
    bool head_only = false;  ///< a HEAD request: headers (with the body's length), no body
};

/// Status line, the handler's headers (minus framing ones, and made safe:
/// no CR/LF/NUL in values, no invalid names), Content-Length, Connection,
/// then the body. A status outside 200-599 becomes 500.
std::string serialize_response(const Response& r, const Framing& f);
/// The head of a streamed response: chunked for HTTP/1.1, close-delimited for 1.0.
std::string serialize_stream_head(int status, const Headers& headers, const Framing& f);
/// One chunk of a chunked body (empty data would end the body: callers skip it).
std::string encode_chunk(std::string_view data);
/// The end of a chunked body.
inline constexpr std::string_view last_chunk = "0\r\n\r\n";
/// {"error": message} with `status`.
Response error_response(int status, std::string_view message);
/// The response's own headers ask to close the connection.
bool wants_close(const Headers& headers);

// ---- reading requests -------------------------------------------------------------

/// Buffers a connection's input and cuts it into requests, in order.
class Exchange {
public:
    explicit Exchange(RequestLimits limits) : parser_(limits) {}

    struct Next {
        enum class Kind {
            need_more,  ///< read more bytes
            request,    ///< `request` is ready to dispatch
            reject,     ///< answer `error`, then close
            closed,     ///< end the connection without an answer
        };
        Kind kind = Kind::need_more;
        ParsedRequest request;
        RequestError error;
    };

    /// Bytes from the socket.
    void append(std::string_view bytes) { buf_.append(bytes); }
    /// The next request, rejection or need for more input.
    Next next();
    /// A request has begun (a timeout then deserves 408, not a silent close).
    bool started() const noexcept { return parser_.started() || pos_ < buf_.size(); }
    bool head_complete() const noexcept { return parser_.head_complete(); }
    bool expects_continue() const noexcept { return parser_.expects_continue(); }
    /// Input received and not yet parsed (pipelined requests).
    std::size_t buffered() const noexcept { return buf_.size() - pos_; }

private:
    RequestParser parser_;
    std::string buf_;
    std::size_t pos_ = 0;
};

/// What to do with a parsed request.
struct Dispatch {
    enum class Kind { respond, plain, stream };
    Kind kind = Kind::respond;
    Response response;  ///< for respond: 403, 404, 405
    bool close = false; ///< close after `response` (403)
    const Handler* handler = nullptr;
    const StreamHandler* stream = nullptr;
};

/// Checks the peer (when `check_peer`: a Unix socket with an allow_peer
/// predicate), routes, fills Request::params and Request::peer.
Dispatch dispatch(const Router& router, const ServerOptions& options, bool check_peer,
                  const std::optional<PeerCredentials>& peer, Request& request);

// ---- I/O ----------------------------------------------------------------------------

/// The next request from `s` (or a rejection, including 408 when the head
/// or body deadline passes after a request began), reading as needed.
/// closed on end of stream, read errors, an idle deadline, or stop.
Task<Exchange::Next> read_request(Stream* s, Exchange* ex, const ServerOptions* o, std::stop_token stop);

/// Writes all of `data`: at once when the socket takes it (so an answer
/// ready when the server stops still goes out), else by awaiting, for at
/// most `timeout`. After a failure the connection must be closed.
Task<Result<void>> send_all(Stream* s, std::string data, std::chrono::milliseconds timeout, std::stop_token stop);

/// Closes after an answer that ends the connection: shuts the write side,
/// then reads and drops what the client still sends (at most 1 s or
/// 256 KiB), so that closing with unread input does not reset the
/// connection and destroy the answer before the client reads it. `linger`
/// shortens the wait (a refusal out of descriptors holds the reserve
/// descriptor meanwhile: a silent client must not keep it long).
Task<void> linger_close(Stream* s, std::stop_token stop, std::chrono::milliseconds linger = std::chrono::seconds(1));

/// A streaming handler's state, owned by the connection (see ResponseStream).
struct StreamState {
    Stream* sock = nullptr;
    const ServerOptions* options = nullptr;
    TaskScope* scope = nullptr;  ///< its token is the stream's stop token
    bool keep_alive = true;
    bool http_1_0 = false;
    bool started = false;      ///< the streamed head went out
    bool responded = false;    ///< respond() sent a whole response
    bool broken = false;       ///< a send failed: close the connection
    bool client_gone = false;  ///< the client closed its end
    bool handler_threw = false;
    bool busy = false;         ///< a send is in progress (one at a time)

    bool open() const noexcept { return !broken && !client_gone && !scope->stop_requested(); }
    void fail() noexcept {
        broken = true;
        scope->request_stop();
    }
};

/// Runs a streaming handler with a reader that notices the client leaving;
/// true when the connection can carry another request afterwards.
Task<bool> serve_stream(const StreamHandler* handler, ParsedRequest request, Stream* sock, Exchange* ex,
                        const ServerOptions* o, std::stop_token stop);

}  // namespace reins::http::detail
