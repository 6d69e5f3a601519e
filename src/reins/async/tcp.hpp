// TCP: numeric endpoints, connect (with or without a deadline) and listen.
// No name resolution: uv_getaddrinfo cannot be cancelled once a threadpool worker has it (docs/design.md,
// How cancellation flows), so a probe that resolved names could outlive its deadline. Only numeric
// addresses and "localhost" are taken: the config refuses other hosts in probe and stop URLs and in
// [supervisor] listen, but a service's `host` may be a name (its port check resolves it, blocking);
// a tcp or http probe of that service then fails at each attempt (UV_EINVAL) until its deadline.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>

#include "reins/async/completion.hpp"
#include "reins/async/listener.hpp"
#include "reins/async/result.hpp"
#include "reins/async/stream.hpp"
#include "reins/async/task.hpp"

namespace reins {

/// An IPv4 or IPv6 address and port.
struct Endpoint {
    sockaddr_storage addr{};

    /// "127.0.0.1:80", "[::1]:80".
    std::string to_string() const;
    /// The port in host byte order (0 for an empty endpoint).
    int port() const;
    /// The address as libuv and the socket API want it.
    const sockaddr* sa() const noexcept { return reinterpret_cast<const sockaddr*>(&addr); }
};

/// A numeric IPv4 ("127.0.0.1") or IPv6 ("::1", "[::1]", "fe80::1%eth0")
/// address, or "localhost" (127.0.0.1), with `port` in 0..65535. Anything
/// else fails with UV_EINVAL naming the input: no DNS at run time.
Result<Endpoint> parse_endpoint(std::string_view host, int port);

/// Awaits a TCP connection (see tcp_connect).
class ConnectAwaiter {
public:
    ConnectAwaiter(Endpoint ep, std::stop_token stop) : ep_(ep), stop_(std::move(stop)) {}
    ConnectAwaiter(ConnectAwaiter&& o) noexcept : ep_(o.ep_), stop_(std::move(o.stop_)) {}
    ~ConnectAwaiter();

    bool await_ready();
    void await_suspend(std::coroutine_handle<> h);
    Result<Stream> await_resume();

    struct Request;

private:
    struct Cancel {
        ConnectAwaiter* self;
        void operator()() const noexcept;
    };
    friend struct Request;

    Endpoint ep_;
    std::stop_token stop_;
    Stream stream_;             // the handle being connected (heap state of its own)
    Request* req_ = nullptr;    // in flight; freed by its callback, never by us
    detail::Completion<Result<void>> done_;
    detail::StopHook<Cancel> hook_;
};

/// Connects to `ep`. Fails with the libuv error and "connect 127.0.0.1:9",
/// or Errc::cancelled on stop (the handle is closed; the request is freed by
/// its callback, which libuv then calls with UV_ECANCELED). No deadline of
/// its own: a SYN to a black hole waits for the kernel's timeout (minutes).
ConnectAwaiter tcp_connect(Endpoint ep, std::stop_token stop = {});

/// tcp_connect raced against `timeout`: Errc::timeout ("connect
/// 127.0.0.1:9 after 500ms") when the deadline wins.
Task<Result<Stream>> tcp_connect(Endpoint ep, std::chrono::milliseconds timeout, std::stop_token stop = {});

/// A listening TCP socket (accept(), close(): see Listener). Move-only.
class TcpListener : public Listener {
public:
    struct State;

    /// Binds and listens on `ep` (port 0: a port the kernel picks; see
    /// local()). A busy port fails with UV_EADDRINUSE and "listen <address>".
    static Result<TcpListener> listen(Endpoint ep, int backlog = 128);

    TcpListener() noexcept = default;
    TcpListener(TcpListener&&) noexcept = default;
    TcpListener& operator=(TcpListener&&) noexcept = default;

    /// The bound address (with the real port when listen() was given 0).
    Endpoint local() const;

private:
    explicit TcpListener(State* st) noexcept;
};

}  // namespace reins
