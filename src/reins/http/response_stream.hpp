// ResponseStream: the answer of a streaming handler (GET /v1/events,
// /v1/logs/NAME?follow=1), sent as a chunked body for as long as the handler
// has something to say and the client listens.
#pragma once

#include <stop_token>
#include <string>

#include "reins/async/result.hpp"
#include "reins/async/task.hpp"
#include "reins/http/message.hpp"

namespace reins::http {

namespace detail {
struct StreamState;
}

/// The response side of a streaming handler; a cheap handle to state the
/// server's connection owns, valid until the handler returns. One operation
/// at a time (await each before the next).
///
/// The handler either answers once with respond() (an error, or a
/// non-streamed answer such as logs without follow=1), or calls start()
/// and then send_chunk() as often as it likes; returning ends the body.
/// When the client goes away, stops reading for the server's write timeout,
/// or the server stops, stop_token() fires and every later send fails:
/// the handler should then return promptly.
class ResponseStream {
public:
    explicit ResponseStream(detail::StreamState* st) noexcept : st_(st) {}

    /// Answers with a whole response instead of a stream. Only before start().
    Task<Result<void>> respond(Response response);
    /// Sends the status line and `headers`; the body follows in chunks
    /// (Transfer-Encoding: chunked; an HTTP/1.0 client gets the raw body,
    /// ended by closing the connection).
    Task<Result<void>> start(int status = 200, Headers headers = {});
    /// Sends one piece of the body, calling start() with 200 first if the
    /// handler has not. Empty data sends nothing (an empty chunk would end
    /// the body). Fails once the client is gone or the server stops.
    Task<Result<void>> send_chunk(std::string data);

    /// Fires when the client closes its end, when a send fails, or when the
    /// server stops. Also given to the handler as its stop_token parameter.
    std::stop_token stop_token() const noexcept;
    /// start() (or the first send_chunk) has sent the head.
    bool started() const noexcept;
    /// Nothing has failed and the client has not gone away.
    bool open() const noexcept;

private:
    detail::StreamState* st_;
};

}  // namespace reins::http
