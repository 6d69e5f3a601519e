// Listener: the accept machinery TcpListener and UnixListener share.
//
// A listener accepts by itself on a uv_poll_t rather than through
// uv_listen: libuv's accept path, on EMFILE, accepts every pending client
// and closes it at once (its "emfile trick"), so a client sees its
// connection reset and never learns why. Here EMFILE is an error value for
// the caller, who can free a reserve descriptor and accept again
// (http::Server answers 503 naming the limit), and pending clients keep
// waiting in the backlog.
#pragma once

#include <coroutine>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>

#include <uv.h>

#include "reins/async/completion.hpp"
#include "reins/async/result.hpp"
#include "reins/async/stream.hpp"

namespace reins {

class ListenerAcceptAwaiter;

namespace detail {

/// The heap state of a listening socket: the poll handle over its fd and the
/// one accept that waits. The kind of socket says how a client fd becomes a
/// Stream, what the listener is called in errors and what closing it undoes.
struct ListenState {
    uv_poll_t poll{};  // watches `fd` while someone awaits accept()
    int fd = -1;       // the listening socket; closed with the poll handle
    bool polling = false;
    ListenerAcceptAwaiter* waiter = nullptr;

    ListenState() { poll.data = this; }
    virtual ~ListenState() = default;
    ListenState(const ListenState&) = delete;
    ListenState& operator=(const ListenState&) = delete;

    /// "127.0.0.1:8080", "/run/x.sock": what errors call it.
    virtual std::string name() const = 0;
    /// Wraps an accepted client fd (which it then owns, also on failure).
    virtual Result<Stream> adopt(int client_fd) = 0;
    /// Undoes what listen() left behind besides the socket (a socket file).
    virtual void on_close() noexcept {}

    /// A connection now, an error, or nullopt when none waits.
    std::optional<Result<Stream>> try_take();
    void watch(bool on);
    static void on_readable(uv_poll_t* p, int status, int events);
};

}  // namespace detail

/// Awaits a listener's next connection (see Listener::accept).
class ListenerAcceptAwaiter {
public:
    ListenerAcceptAwaiter(detail::ListenState* st, std::stop_token stop) : st_(st), stop_(std::move(stop)) {}
    ListenerAcceptAwaiter(ListenerAcceptAwaiter&& o) noexcept : st_(o.st_), stop_(std::move(o.stop_)) {}
    ~ListenerAcceptAwaiter();

    bool await_ready();
    void await_suspend(std::coroutine_handle<> h);
    Result<Stream> await_resume();

private:
    friend class Listener;
    friend struct detail::ListenState;
    struct Cancel {
        ListenerAcceptAwaiter* self;
        void operator()() const noexcept;
    };
    void unlink() noexcept;

    detail::ListenState* st_;
    std::stop_token stop_;
    detail::Completion<Result<Stream>> done_;
    detail::StopHook<Cancel> hook_;
};

/// A listening socket. Move-only; destroying it completes a pending accept()
/// with Errc::cancelled and closes the socket.
class Listener {
public:
    using AcceptAwaiter = ListenerAcceptAwaiter;

    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    /// False for a default-constructed, moved-from or closed listener.
    explicit operator bool() const noexcept { return st_ != nullptr; }

    /// The next connection, or Errc::cancelled on stop / when the listener
    /// closes. One waiter at a time; connections that arrive while nobody
    /// awaits wait in the kernel's backlog.
    /// Out of descriptors, an error value (UV_EMFILE, UV_ENFILE) and the
    /// client stays in the backlog: never accepted and closed behind the
    /// caller's back as libuv's own accept does.
    AcceptAwaiter accept(std::stop_token stop = {}) { return AcceptAwaiter(st_, std::move(stop)); }

    /// Stops listening now (idempotent).
    void close() noexcept;

protected:
    Listener() noexcept = default;
    explicit Listener(detail::ListenState* st) noexcept : st_(st) {}
    ~Listener() { close(); }
    Listener(Listener&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
    Listener& operator=(Listener&& o) noexcept {
        if (this != &o) {
            close();
            st_ = std::exchange(o.st_, nullptr);
        }
        return *this;
    }

    detail::ListenState* st_ = nullptr;
};

}  // namespace reins
