// Server: HTTP/1.1 on a Unix socket or TCP, for the control API (docs/cli.md, Control API).
//
// One task per connection inside a TaskScope: run() returns only after every
// connection has ended. Requests on a connection are read, answered and
// written one at a time, so pipelined requests are answered in order and a
// client that does not read its answers stops being read (backpressure).
// The process must ignore SIGPIPE (docs/runtime.md): a client hanging up
// mid-answer is then an error value, not a fatal signal.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <stop_token>
#include <string>

#include "reins/async/stream.hpp"
#include "reins/async/task.hpp"
#include "reins/async/tcp.hpp"
#include "reins/async/unix_socket.hpp"
#include "reins/http/request_parser.hpp"
#include "reins/http/router.hpp"

namespace reins::http {

/// Limits and policies. Every limit answers with a status and closes the
/// connection: 400 malformed, 408 too slow, 413 body, 431 head, 501
/// Transfer-Encoding other than chunked, 503 too many connections or out of
/// file descriptors (naming the open-file limit), 403 a refused peer.
struct ServerOptions {
    /// Head and body sizes (64 KiB each by default).
    RequestLimits limits;
    /// The whole request head must arrive within this, counted from when the
    /// server starts waiting for it (the connection opened, or the previous
    /// answer was sent). A client that sent nothing by then is closed
    /// silently (an idle keep-alive connection); one that sent part of a
    /// head gets 408 (slowloris).
    std::chrono::milliseconds head_timeout{5000};
    /// The body must arrive within this after the head (408 otherwise).
    std::chrono::milliseconds body_timeout{10000};
    /// An answer (or one streamed chunk) must be taken by the client within
    /// this; otherwise the connection is closed (a streaming handler's send
    /// then fails).
    std::chrono::milliseconds write_timeout{10000};
    /// Connections served at once. Further clients are accepted and answered
    /// 503 (with Retry-After: 1) and closed, so a CLI gets a clear answer
    /// instead of hanging; beyond twice the cap they are closed unanswered.
    std::size_t max_connections = 64;
    /// Who may talk to a Unix socket server (docs/cli.md: the socket owner's uid
    /// and root). Empty: anyone who can open the socket. Refused peers, and
    /// peers whose credentials cannot be read, get 403 and are closed. Not
    /// consulted for TCP connections, which carry no credentials.
    std::function<bool(const PeerCredentials&)> allow_peer;
};

/// The usual allow_peer for a control socket: the current uid and root.
std::function<bool(const PeerCredentials&)> allow_owner_and_root();

/// Serves one listener. Not movable (connection tasks point at it).
class Server {
public:
    Server(UnixListener listener, Router router, ServerOptions options = {});
    Server(TcpListener listener, Router router, ServerOptions options = {});
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Accepts and serves until `stop`: then closes the listener, stops every
    /// connection (idle ones close at once, handlers see their stop token,
    /// streams end) and returns once all have ended. Call once. Handlers
    /// must honour their stop token for this to be prompt.
    Task<void> run(std::stop_token stop);

    /// Serves `listener` from now on instead of the Unix socket given so far
    /// (whose file was removed: a control socket whose state directory was
    /// deleted). The old listener closes; connections being served go on;
    /// run() accepts on the new one. Only for a Unix socket server.
    void replace_listener(UnixListener listener);

    /// Connections being served now (not counting 503 refusals).
    std::size_t connections() const noexcept { return active_; }
    /// The TCP address served (port included); empty for a Unix socket.
    Endpoint local() const { return tcp_ ? tcp_.local() : Endpoint{}; }
    /// The Unix socket path served; empty for TCP.
    std::string path() const { return unix_.path(); }
    const ServerOptions& options() const noexcept { return options_; }

private:
    Task<Result<Stream>> accept(std::stop_token stop);
    static Task<void> serve_connection(Server* self, Stream sock, std::stop_token stop);
    // Answers 503 with `reason` (and Retry-After: 1) and closes.
    // `reserve`: the client holds the reserve descriptor's place.
    static Task<void> refuse(Server* self, Stream sock, std::string reason, bool reserve, std::stop_token stop);
    // The reserve descriptor (/dev/null, close-on-exec): closed to accept one
    // client when the process is out of descriptors, so that the client gets
    // 503 naming the open-file limit rather than a reset. Reopen: false
    // while still out of descriptors.
    bool open_reserve() noexcept;
    void close_reserve() noexcept;

    UnixListener unix_;
    TcpListener tcp_;
    bool is_unix_;
    Router router_;
    ServerOptions options_;
    std::size_t active_ = 0;
    std::size_t refusing_ = 0;
    unsigned listener_generation_ = 0;  ///< counts replace_listener() calls
    int reserve_fd_ = -1;
};

}  // namespace reins::http
