// Streaming responses: ResponseStream and the connection side that runs a
// streaming handler next to a reader watching for the client to leave.
#include "reins/http/response_stream.hpp"

#include <cassert>

#include "reins/async/timer.hpp"
#include "reins/http/connection.hpp"

namespace reins::http {

namespace detail {
namespace {

// Clears StreamState::busy however the send ends.
struct Busy {
    StreamState* st;
    explicit Busy(StreamState* s) : st(s) {
        assert(!s->busy && "ResponseStream: one send at a time");
        s->busy = true;
    }
    ~Busy() { st->busy = false; }
};

Result<void> closed_error(const StreamState* st) {
    if (st->client_gone) return fail(Errc::end_of_stream, "response stream: the client went away");
    if (st->broken) return fail(uv_error(UV_EPIPE, "response stream: an earlier send failed"));
    return fail(Errc::cancelled, "response stream: the server is stopping");
}

Task<Result<void>> send(StreamState* st, std::string bytes) {
    auto w = co_await send_all(st->sock, std::move(bytes), st->options->write_timeout, st->scope->token());
    if (!w) st->fail();
    co_return w;
}

Task<Result<void>> respond(StreamState* st, Response r) {
    if (st->started || st->responded) co_return fail(uv_error(UV_EALREADY, "response stream: already answered"));
    if (!st->open()) co_return closed_error(st);
    Busy busy(st);
    st->responded = true;
    st->keep_alive = st->keep_alive && !wants_close(r.headers);
    const Framing f{st->keep_alive, st->http_1_0, false};
    auto w = co_await send(st, serialize_response(r, f));
    co_return w;
}

Task<Result<void>> start(StreamState* st, int status, Headers headers) {
    if (st->started || st->responded) co_return fail(uv_error(UV_EALREADY, "response stream: already answered"));
    if (!st->open()) co_return closed_error(st);
    Busy busy(st);
    st->started = true;
    if (st->http_1_0 || wants_close(headers)) st->keep_alive = false;
    const Framing f{st->keep_alive, st->http_1_0, false};
    auto w = co_await send(st, serialize_stream_head(status, headers, f));
    co_return w;
}

Task<Result<void>> send_chunk(StreamState* st, std::string data) {
    if (!st->started) {
        Headers none;
        auto s = co_await start(st, 200, std::move(none));
        if (!s) co_return s;
    }
    if (!st->open()) co_return closed_error(st);
    if (data.empty()) co_return Result<void>{};
    Busy busy(st);
    std::string bytes = st->http_1_0 ? std::move(data) : encode_chunk(data);
    auto w = co_await send(st, std::move(bytes));
    co_return w;
}

// Reads while the handler runs, so that the client closing its end (EOF or
// an error) stops the stream even when the handler has nothing to send.
// Bytes that arrive meanwhile (a pipelined request) are kept for later, up
// to a bound; past it, reading pauses until the stream ends.
Task<void> watch_client(StreamState* st, Exchange* ex) {
    const RequestLimits& l = st->options->limits;
    const std::size_t cap = l.max_head + l.max_body;
    std::stop_token stop = st->scope->token();
    while (ex->buffered() < cap) {
        auto r = co_await st->sock->read(stop);
        if (!r) {
            if (!r.error().is(Errc::cancelled)) {
                st->client_gone = true;
                st->scope->request_stop();
            }
            co_return;
        }
        ex->append(*r);
    }
    co_await sleep_until_stopped(stop);
}

Task<void> run_handler(const StreamHandler* h, Request req, StreamState* st) {
    try {
        Task<void> t = (*h)(std::move(req), ResponseStream(st), st->scope->token());
        co_await std::move(t);
    } catch (...) {
        st->handler_threw = true;
    }
    st->scope->request_stop();  // the handler is done: end the watcher
}

}  // namespace

Task<bool> serve_stream(const StreamHandler* handler, ParsedRequest pr, Stream* sock, Exchange* ex,
                        const ServerOptions* o, std::stop_token stop) {
    TaskScope scope(stop);
    StreamState st;
    st.sock = sock;
    st.options = o;
    st.scope = &scope;
    st.keep_alive = pr.keep_alive;
    st.http_1_0 = pr.http_1_0;
    scope.spawn(watch_client(&st, ex));
    scope.spawn(run_handler(handler, std::move(pr.request), &st));
    co_await scope.join();

    if (st.broken || st.client_gone || stop.stop_requested()) co_return false;
    if (st.responded) co_return st.keep_alive && !st.handler_threw;
    if (!st.started) {
        // The handler returned without answering: a bug in it.
        const Framing f{false, st.http_1_0, false};
        std::string bytes = serialize_response(error_response(500, "internal error"), f);
        auto w = co_await send_all(sock, std::move(bytes), o->write_timeout, stop);
        if (w) co_await linger_close(sock, stop);
        co_return false;
    }
    // A thrown handler leaves the body unfinished; only closing says so.
    if (st.http_1_0 || st.handler_threw) co_return false;
    auto w = co_await send_all(sock, std::string(last_chunk), o->write_timeout, stop);
    co_return w.has_value() && st.keep_alive;
}

}  // namespace detail

Task<Result<void>> ResponseStream::respond(Response response) { return detail::respond(st_, std::move(response)); }
Task<Result<void>> ResponseStream::start(int status, Headers headers) {
    return detail::start(st_, status, std::move(headers));
}
Task<Result<void>> ResponseStream::send_chunk(std::string data) { return detail::send_chunk(st_, std::move(data)); }
std::stop_token ResponseStream::stop_token() const noexcept { return st_->scope->token(); }
bool ResponseStream::started() const noexcept { return st_->started; }
bool ResponseStream::open() const noexcept { return st_->open(); }

}  // namespace reins::http
