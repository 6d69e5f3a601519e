#include "reins/http/server.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "reins/async/fd_limit.hpp"
#include "reins/async/timer.hpp"
#include "reins/async/when.hpp"
#include "reins/http/connection.hpp"

namespace reins::http {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace detail {
namespace {

// Makers for with_timeout: named types, never capturing lambdas inside a
// co_await's full-expression (g++ 12).
struct ReadSome {
    Stream* s;
    Stream::ReadAwaiter operator()(std::stop_token t) const { return s->read(std::move(t)); }
};
struct WriteAll {
    Stream* s;
    std::string data;
    Stream::WriteAwaiter operator()(std::stop_token t) { return s->write(std::move(data), std::move(t)); }
};

// Time left until `deadline`, rounded up so that a deadline does not fire early.
milliseconds left_until(Clock::time_point deadline) {
    auto d = deadline - Clock::now();
    if (d <= Clock::duration::zero()) return milliseconds(0);
    return std::chrono::ceil<milliseconds>(d);
}

constexpr std::string_view continue_100 = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr milliseconds linger_time{1000};
constexpr std::size_t linger_bytes = 256 * 1024;

}  // namespace

Task<Exchange::Next> read_request(Stream* s, Exchange* ex, const ServerOptions* o, std::stop_token stop) {
    const auto head_deadline = Clock::now() + o->head_timeout;
    std::optional<Clock::time_point> body_deadline;
    bool sent_continue = false;
    for (;;) {
        Exchange::Next n = ex->next();
        if (n.kind != Exchange::Next::Kind::need_more) co_return n;
        if (ex->head_complete() && !body_deadline) body_deadline = Clock::now() + o->body_timeout;
        if (ex->expects_continue() && !sent_continue) {
            sent_continue = true;
            auto w = co_await send_all(s, std::string(continue_100), o->write_timeout, stop);
            if (!w) {
                Exchange::Next end;
                end.kind = Exchange::Next::Kind::closed;
                co_return end;
            }
        }
        milliseconds left = left_until(body_deadline ? *body_deadline : head_deadline);
        Result<std::string_view> r = fail(Errc::timeout);
        if (left.count() > 0) {
            ReadSome reader{s};
            auto got = co_await with_timeout(left, stop, reader);
            r = std::move(got);
        }
        if (r) {
            ex->append(*r);
            continue;
        }
        Exchange::Next end;
        end.kind = Exchange::Next::Kind::closed;
        if (r.error().is(Errc::timeout) && ex->started()) {
            end.kind = Exchange::Next::Kind::reject;
            end.error = {408, body_deadline ? "request body too slow" : "request head too slow"};
        }
        co_return end;  // end of stream, read error, stop, or an idle connection's deadline
    }
}

Task<Result<void>> send_all(Stream* s, std::string data, milliseconds timeout, std::stop_token stop) {
    if (!*s) co_return fail(uv_error(UV_EPIPE, "write to a closed stream"));
    uv_buf_t buf = uv_buf_init(data.data(), static_cast<unsigned>(data.size()));
    int n = uv_try_write(s->uv(), &buf, 1);  // EAGAIN when writes are queued: order is kept
    if (n >= 0 && static_cast<std::size_t>(n) == data.size()) co_return Result<void>{};
    if (n > 0) data.erase(0, static_cast<std::size_t>(n));
    else if (n != UV_EAGAIN) co_return fail(uv_error(n, "write"));
    // The maker is a named local: a temporary built inside the co_await's
    // full-expression is destroyed twice by g++ 12 (its string freed twice).
    WriteAll writer{s, std::move(data)};
    auto w = co_await with_timeout(timeout, std::move(stop), std::move(writer));
    co_return w;
}

Task<void> linger_close(Stream* s, std::stop_token stop, milliseconds linger) {
    if (!*s) co_return;
    uv_os_fd_t fd = -1;
    // Every write has completed (send_all awaits them), so shutting the
    // socket behind libuv's back cannot cut one short.
    if (uv_fileno(reinterpret_cast<const uv_handle_t*>(s->uv()), &fd) == 0) ::shutdown(fd, SHUT_WR);
    const auto until = Clock::now() + std::min(linger, linger_time);
    std::size_t drained = 0;
    while (drained < linger_bytes && !stop.stop_requested()) {
        milliseconds left = left_until(until);
        if (left.count() == 0) break;
        ReadSome reader{s};
        auto r = co_await with_timeout(left, stop, reader);
        if (!r) break;
        drained += r->size();
    }
    s->close();
}

}  // namespace detail

namespace {

Task<Response> call_handler(const Handler* h, Request req, std::stop_token stop) {
    // A throwing handler is a bug in it, not a reason to drop the connection.
    try {
        Task<Response> t = (*h)(std::move(req), std::move(stop));
        Response r = co_await std::move(t);
        co_return r;
    } catch (...) {
    }
    co_return detail::error_response(500, "internal error");
}

}  // namespace

std::function<bool(const PeerCredentials&)> allow_owner_and_root() {
    uid_t me = ::getuid();
    return [me](const PeerCredentials& p) { return p.uid == me || p.uid == 0; };
}

Server::Server(UnixListener listener, Router router, ServerOptions options)
    : unix_(std::move(listener)), is_unix_(true), router_(std::move(router)), options_(std::move(options)) {
    open_reserve();
}

Server::Server(TcpListener listener, Router router, ServerOptions options)
    : tcp_(std::move(listener)), is_unix_(false), router_(std::move(router)), options_(std::move(options)) {
    open_reserve();
}

Server::~Server() { close_reserve(); }

bool Server::open_reserve() noexcept {
    if (reserve_fd_ < 0) reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    return reserve_fd_ >= 0;
}

void Server::close_reserve() noexcept {
    if (reserve_fd_ >= 0) ::close(std::exchange(reserve_fd_, -1));
}

Task<Result<Stream>> Server::accept(std::stop_token stop) {
    if (is_unix_) {
        auto r = co_await unix_.accept(std::move(stop));
        co_return r;
    }
    auto r = co_await tcp_.accept(std::move(stop));
    co_return r;
}

Task<void> Server::run(std::stop_token stop) {
    TaskScope scope(stop);
    const std::size_t cap = std::max<std::size_t>(options_.max_connections, 1);
    while (!scope.stop_requested()) {
        const unsigned generation = listener_generation_;
        Result<Stream> c = co_await accept(scope.token());
        if (!c) {
            // A replaced listener cancels its accept: accept on the new one.
            if (generation != listener_generation_ && !scope.stop_requested()) continue;
            if (c.error().is(Errc::cancelled)) break;
            const int code = c.error().code.value();
            const bool out_of_fds = c.error().code.category() == libuv_category() && (code == UV_EMFILE || code == UV_ENFILE);
            if (out_of_fds && reserve_fd_ >= 0) {
                // The reserve descriptor makes room for this one client,
                // who learns why instead of seeing its connection reset.
                close_reserve();
                Result<Stream> spare = co_await accept(scope.token());
                // Reopening fails while we are still out: then the client
                // gets 503 and the reserve is reopened when it is gone.
                const bool still_out = !open_reserve();
                if (spare && still_out) {
                    ++refusing_;
                    std::string why = "reins cannot serve this request: " + open_file_limit_hint(code);
                    scope.spawn(refuse(this, std::move(*spare), std::move(why), true, scope.token()));
                    continue;
                }
                if (spare) {
                    c = std::move(spare);
                } else {
                    if (spare.error().is(Errc::cancelled)) break;
                }
            }
            if (!c) {
                // Out of descriptors with the reserve in use, or another
                // error: pending clients wait in the backlog meanwhile.
                auto pause = co_await sleep(milliseconds(100), scope.token());
                (void)pause;
                open_reserve();
                continue;
            }
        }
        if (active_ < cap) {
            ++active_;
            scope.spawn(serve_connection(this, std::move(*c), scope.token()));
        } else if (refusing_ < cap) {
            ++refusing_;
            scope.spawn(refuse(this, std::move(*c), "too many connections", false, scope.token()));
        }
        // else: the connection closes here, unanswered
    }
    unix_.close();
    tcp_.close();
    scope.request_stop();
    co_await scope.join();
}

void Server::replace_listener(UnixListener listener) {
    unix_ = std::move(listener);  // closing the old one completes its accept with cancelled
    ++listener_generation_;
}

Task<void> Server::refuse(Server* self, Stream sock, std::string reason, bool reserve, std::stop_token stop) {
    struct Count {
        Server* s;
        ~Count() {
            --s->refusing_;
            s->open_reserve();  // when this client held the reserve's place
        }
    } count{self};
    Response busy = detail::error_response(503, reason);
    busy.headers.push_back({"Retry-After", "1"});
    const detail::Framing closing{false, false, false};
    std::string bytes = detail::serialize_response(busy, closing);
    auto w = co_await detail::send_all(&sock, std::move(bytes), self->options_.write_timeout, stop);
    // A client that sent its request has it drained by now; one that stays
    // silent must not hold the reserve for the others waiting behind it.
    const milliseconds linger = reserve ? milliseconds(50) : milliseconds(1000);
    if (w) co_await detail::linger_close(&sock, stop, linger);
}

Task<void> Server::serve_connection(Server* self, Stream sock, std::stop_token stop) {
    struct Count {
        Server* s;
        ~Count() { --s->active_; }
    } count{self};
    const ServerOptions& o = self->options_;
    std::optional<PeerCredentials> peer;
    if (self->is_unix_) {
        auto cred = peer_credentials(sock);
        if (cred) peer = *cred;
    }
    detail::Exchange ex(o.limits);
    for (;;) {
        detail::Exchange::Next next = co_await detail::read_request(&sock, &ex, &o, stop);
        if (next.kind == detail::Exchange::Next::Kind::closed) co_return;
        if (next.kind == detail::Exchange::Next::Kind::reject) {
            const detail::Framing closing{false, false, false};
            std::string bytes = detail::serialize_response(detail::error_response(next.error.status, next.error.reason), closing);
            auto w = co_await detail::send_all(&sock, std::move(bytes), o.write_timeout, stop);
            if (w) co_await detail::linger_close(&sock, stop);
            co_return;
        }
        ParsedRequest& pr = next.request;
        const bool head_only = pr.request.method == "HEAD";
        detail::Dispatch d = detail::dispatch(self->router_, o, self->is_unix_, peer, pr.request);
        bool keep = false;
        if (d.kind == detail::Dispatch::Kind::stream) {
            keep = co_await detail::serve_stream(d.stream, std::move(pr), &sock, &ex, &o, stop);
        } else {
            Response resp = std::move(d.response);
            if (d.kind == detail::Dispatch::Kind::plain) {
                Response r = co_await call_handler(d.handler, std::move(pr.request), stop);
                resp = std::move(r);
            }
            keep = pr.keep_alive && !d.close && !detail::wants_close(resp.headers);
            const detail::Framing f{keep, pr.http_1_0, head_only};
            std::string bytes = detail::serialize_response(resp, f);
            auto w = co_await detail::send_all(&sock, std::move(bytes), o.write_timeout, stop);
            if (!w) co_return;
            if (!keep) co_await detail::linger_close(&sock, stop);
        }
        if (!keep || stop.stop_requested()) co_return;
    }
}

}  // namespace reins::http
