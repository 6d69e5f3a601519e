#include "reins/async/listener.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>

#include "reins/async/close_handle.hpp"

namespace reins {
namespace detail {
namespace {

// One accept4 (close-on-exec, non-blocking) on a non-blocking listening
// socket: the new fd, a libuv error status (UV_EMFILE...), or nullopt when
// no client waits. Clients that gave up before being accepted are skipped.
std::optional<int> accept_now(int listen_fd, int& status) {
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

}  // namespace

std::optional<Result<Stream>> ListenState::try_take() {
    int status = 0;
    auto fd_or = accept_now(fd, status);
    if (!fd_or) return std::nullopt;
    if (*fd_or < 0) return Result<Stream>(fail(uv_error(status, "accept on " + name())));
    return adopt(*fd_or);
}

void ListenState::watch(bool on) {
    if (on == polling) return;
    polling = on;
    if (on) uv_poll_start(&poll, UV_READABLE, &ListenState::on_readable);
    else uv_poll_stop(&poll);
}

void ListenState::on_readable(uv_poll_t* p, int status, int) {
    auto* st = static_cast<ListenState*>(p->data);
    ListenerAcceptAwaiter* w = st->waiter;
    if (!w) {
        st->watch(false);  // nobody waits: clients wait in the backlog
        return;
    }
    std::optional<Result<Stream>> r;
    if (status < 0) r = Result<Stream>(fail(uv_error(status, "accept on " + st->name())));
    else r = st->try_take();
    if (!r) return;  // woken for nothing (another accept took it)
    st->watch(false);
    w->unlink();
    w->done_.complete(std::move(*r));
}

}  // namespace detail

void Listener::close() noexcept {
    detail::ListenState* st = std::exchange(st_, nullptr);
    if (!st) return;
    if (AcceptAwaiter* w = st->waiter) {
        w->unlink();
        w->hook_.detach();
        w->done_.complete(fail(Errc::cancelled, "listener " + st->name() + " closed"));
    }
    st->on_close();
    // uv_close stops the poll at once (epoll forgets the fd), so the socket
    // is closed now, not a loop turn later: the port or path is free when
    // close() returns, and clients still in the backlog see a reset.
    detail::close_and_delete<detail::ListenState>(&st->poll);
    ::close(std::exchange(st->fd, -1));
}

ListenerAcceptAwaiter::~ListenerAcceptAwaiter() {
    hook_.detach();
    unlink();
}

void ListenerAcceptAwaiter::unlink() noexcept {
    if (st_ && st_->waiter == this) {
        st_->waiter = nullptr;
        st_->watch(false);
    }
    st_ = nullptr;
}

bool ListenerAcceptAwaiter::await_ready() {
    if (!st_) done_.complete(fail(Errc::cancelled, "accept on a closed listener"));
    else if (stop_.stop_requested()) done_.complete(fail(Errc::cancelled));
    else if (auto r = st_->try_take()) done_.complete(std::move(*r));
    return done_.done();
}

void ListenerAcceptAwaiter::await_suspend(std::coroutine_handle<> h) {
    assert(st_->waiter == nullptr && "Listener::accept awaited twice at once");
    done_.arm(h);
    st_->waiter = this;
    st_->watch(true);
    hook_.attach(stop_, Cancel{this});
}

void ListenerAcceptAwaiter::Cancel::operator()() const noexcept {
    self->unlink();
    self->done_.complete(fail(Errc::cancelled));
}

Result<Stream> ListenerAcceptAwaiter::await_resume() {
    hook_.detach();
    return done_.take();
}

}  // namespace reins
