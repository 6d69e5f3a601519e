// accept4 for the listeners (UnixListener, TcpListener); internal.
//
// The listeners accept by themselves on a uv_poll_t rather than through
// uv_listen: libuv's accept path, on EMFILE, accepts every pending client
// and closes it at once (its "emfile trick"), so a client sees its connection
// reset and never learns why. Here EMFILE is an error value for the caller,
// who can free a reserve descriptor and accept again (http::Server answers
// 503 naming the limit), and pending clients keep waiting in the backlog.
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <optional>

#include <uv.h>

namespace reins::detail {

/// One accept4 (close-on-exec, non-blocking) on a non-blocking listening
/// socket: the new fd, a libuv error status (UV_EMFILE...), or nullopt when
/// no client waits. Clients that gave up before being accepted are skipped.
inline std::optional<int> accept_now(int listen_fd, int& status) {
    status = 0;
    for (;;) {
        int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) return fd;
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return std::nullopt;
        status = uv_translate_sys_error(errno);
        return -1;
    }
}

}  // namespace reins::detail
