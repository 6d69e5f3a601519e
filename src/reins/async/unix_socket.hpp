// Unix stream sockets: connect, listen/accept, and peer credentials.
//
// Paths longer than sun_path (108 bytes) still work: the socket is bound or
// connected through /proc/self/fd/<dirfd>/<name> of an O_PATH descriptor of
// its folder, so a deep state directory is no obstacle (docs/cli.md, Control API).
//
// libuv's uv_pipe_bind/uv_pipe_connect take a path that must fit in
// sun_path (uv_pipe_bind2 is 1.46, newer than our floor), so the socket is
// made, bound and connected here and handed to a uv_pipe_t afterwards.
#pragma once

#include <sys/types.h>

#include <coroutine>
#include <stop_token>
#include <string>
#include <utility>

#include "reins/async/completion.hpp"
#include "reins/async/listener.hpp"
#include "reins/async/result.hpp"
#include "reins/async/stream.hpp"

namespace reins {

/// Who is at the other end of a Unix socket (SO_PEERCRED).
struct PeerCredentials {
    pid_t pid = 0;
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
};

/// The credentials of the peer of a connected Unix stream socket (as they
/// were when it connected). Fails on a closed stream, and with UV_EINVAL on
/// anything but a Unix socket (where the kernel would report uid 65534).
Result<PeerCredentials> peer_credentials(const Stream& s);

/// Awaits unix_connect. It never suspends: connect() on a non-blocking Unix
/// stream socket succeeds or fails at once (UV_EAGAIN when the listener's
/// backlog is full, reported as an error value, not retried).
class UnixConnectAwaiter {
public:
    UnixConnectAwaiter(std::string path, std::stop_token stop) : path_(std::move(path)), stop_(std::move(stop)) {}
    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    Result<Stream> await_resume();

private:
    std::string path_;
    std::stop_token stop_;
};

/// Connects to the Unix stream socket at `path` (any length). Errors name the
/// path: "connect /run/x/reins.sock: no such file or directory (ENOENT)";
/// Errc::cancelled when `stop` was already requested.
UnixConnectAwaiter unix_connect(std::string path, std::stop_token stop = {});

/// A listening Unix stream socket (accept(): see Listener). Move-only;
/// destroying it completes a pending accept() with Errc::cancelled, closes
/// the socket and unlinks its file.
class UnixListener : public Listener {
public:
    struct State;

    /// Binds and listens at `path` (any length) with file mode `mode` (set
    /// before listen(), so nobody connects through a looser mode). A stale
    /// socket file (nobody listening) is replaced; a live one is
    /// EADDRINUSE (found by connecting, so the live listener sees one
    /// connection that closes at once); a non-socket file is left alone
    /// (EEXIST). Errors name the path: "listen /run/x.sock: ...".
    static Result<UnixListener> listen(std::string path, mode_t mode = 0600, int backlog = 128);

    UnixListener() noexcept = default;
    UnixListener(UnixListener&&) noexcept = default;
    UnixListener& operator=(UnixListener&&) noexcept = default;

    /// The path given to listen(); empty when closed. close() (and the
    /// destructor) unlinks the socket file if it is still the one listen()
    /// created (a file put there since stays).
    std::string path() const;

private:
    explicit UnixListener(State* st) noexcept;
};

}  // namespace reins
