// DatagramSocket: a Unix datagram socket that receives messages with the
// sender's credentials (for sd_notify: docs/engine.md, Readiness notification).
//
// libuv's uv_udp does not do AF_UNIX, so this is a raw non-blocking socket
// watched by a uv_poll_t. The poll handle and the fd live in heap state that
// the handle's close callback frees (closing the fd after libuv stopped
// watching it).
//
// Reading drains the socket as soon as it is readable, whether or not anyone
// awaits receive(), into a queue of at most queue_capacity datagrams, so no
// message is lost between receive() calls. When that queue is full the
// socket is no longer polled: further messages wait in the kernel's queue
// and, once that is full too, senders block (or get EAGAIN), which is the
// backpressure systemd's own notify socket applies. Nothing is dropped for
// lack of room; only oversized messages are (see max_datagram).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>

#include "reins/async/completion.hpp"
#include "reins/async/result.hpp"

namespace reins {

/// One received message and who sent it.
struct Datagram {
    std::string data;
    /// From SCM_CREDENTIALS (always present with SO_PASSCRED on Linux): the
    /// sender's pid in reins' pid namespace; 0 if the kernel gave none.
    pid_t pid = 0;
    /// The sender's uid and gid; (uid_t)-1 / (gid_t)-1 when absent, never 0,
    /// so a missing credential is not mistaken for root.
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
};

/// A bound AF_UNIX SOCK_DGRAM socket. Move-only; destroying it completes a
/// pending receive() with Errc::cancelled, closes the socket and unlinks the
/// filesystem path it bound. It keeps the loop alive only while awaited.
class DatagramSocket {
public:
    /// The largest message delivered. A longer one is dropped whole (counted
    /// by dropped()), never delivered truncated: a cut "MAINPID=1234" would
    /// read as another pid. systemd's own limit is the same (PIPE_BUF).
    static constexpr std::size_t max_datagram = 4096;
    /// Datagrams buffered in user space before the socket stops being polled.
    static constexpr std::size_t queue_capacity = 64;

    /// Binds `path`: a filesystem path, or an abstract-namespace name when it
    /// starts with '@' ("@reins-1a2b-web": no file, no trailing NUL). A stale
    /// socket file at `path` (one nobody is bound to) is replaced; a live one,
    /// or anything that is not a socket, is an error naming the path. A path
    /// that does not fit in sun_path fails with UV_ENAMETOOLONG, saying the
    /// limit, so the caller can fall back to an abstract name. A filesystem
    /// socket gets `mode` (chmod after bind: AF_UNIX ignores fchmod).
    static Result<DatagramSocket> bind(std::string path, mode_t mode = 0600);

    /// Sends one datagram to `path` ('@' for abstract) from a fresh socket,
    /// synchronously and without blocking: a receiver whose queue is full
    /// gives UV_EAGAIN rather than stalling the loop.
    static Result<void> send_to(const std::string& path, std::string_view data);

    DatagramSocket() noexcept = default;
    ~DatagramSocket() { close(); }
    DatagramSocket(DatagramSocket&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
    DatagramSocket& operator=(DatagramSocket&& o) noexcept;
    DatagramSocket(const DatagramSocket&) = delete;
    DatagramSocket& operator=(const DatagramSocket&) = delete;

    /// False for a default-constructed, moved-from or closed socket.
    explicit operator bool() const noexcept { return st_ != nullptr; }
    /// The path given to bind() ("@name" for an abstract socket), e.g. for
    /// NOTIFY_SOCKET; empty when closed.
    std::string path() const;
    /// Datagrams received but not yet taken by receive().
    std::size_t queued() const noexcept;
    /// Reads what the kernel holds for the socket now, as the poll would at
    /// the loop's next turn: into the queue, or to a waiting receive().
    /// Returns how many datagrams it took (0 when the queue is full). For a
    /// reader that must see every message sent before some other event it
    /// just learned of (the sender's exit, say).
    std::size_t pull();
    /// Datagrams delivered so far (queued, or handed to receive()): a
    /// reader that counts what it handled knows whether it is caught up.
    std::size_t received() const noexcept;
    /// Datagrams dropped because they exceeded max_datagram.
    std::size_t dropped() const noexcept;

    class ReceiveAwaiter;
    /// The next datagram, in arrival order. Any file descriptors passed with
    /// it (SCM_RIGHTS, e.g. sd_notify's BARRIER=1 pipe) are already closed.
    /// Errc::cancelled on stop or when the socket is destroyed meanwhile.
    ReceiveAwaiter receive(std::stop_token stop = {});

    /// Closes the socket now (idempotent); see the destructor.
    void close() noexcept;

    struct State;

private:
    explicit DatagramSocket(State* st) noexcept : st_(st) {}
    State* st_ = nullptr;
};

class DatagramSocket::ReceiveAwaiter {
public:
    ReceiveAwaiter(State* st, std::stop_token stop) : st_(st), stop_(std::move(stop)) {}
    ReceiveAwaiter(ReceiveAwaiter&& o) noexcept : st_(o.st_), stop_(std::move(o.stop_)) {}
    ~ReceiveAwaiter();
    bool await_ready();
    void await_suspend(std::coroutine_handle<> h);
    Result<Datagram> await_resume();

private:
    friend class DatagramSocket;
    friend struct DatagramSocket::State;
    struct Cancel {
        ReceiveAwaiter* self;
        void operator()() const noexcept { self->finish(fail(Errc::cancelled)); }
    };
    void finish(Result<Datagram> r);

    State* st_;
    std::stop_token stop_;
    detail::Completion<Result<Datagram>> done_;
    detail::StopHook<Cancel> hook_;
};

}  // namespace reins
