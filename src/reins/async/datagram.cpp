#include "reins/async/datagram.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <deque>
#include <optional>

namespace reins {
namespace {

// The kernel passes at most SCM_MAX_FD (253) descriptors with one message;
// room for all of them means none is silently cut off (MSG_CTRUNC).
constexpr std::size_t max_fds = 253;
constexpr std::size_t control_size = CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * max_fds);
constexpr std::size_t sun_path_size = sizeof(sockaddr_un::sun_path);

int last_error() { return uv_translate_sys_error(errno); }

struct Address {
    sockaddr_un sun{};
    socklen_t len = 0;
    bool abstract = false;
};

// `what` names the operation in errors ("bind /run/x.sock").
Result<Address> make_address(const std::string& path, const std::string& what) {
    Address a;
    a.sun.sun_family = AF_UNIX;
    if (path.empty() || path == "@") return fail(uv_error(UV_EINVAL, what + ": empty socket name"));
    if (path.find('\0') != std::string::npos)
        return fail(uv_error(UV_EINVAL, what + ": NUL byte in socket path"));
    a.abstract = path[0] == '@';
    // A filesystem path needs its trailing NUL (portable clients expect one);
    // an abstract name's '@' becomes the leading NUL, and nothing follows it.
    std::size_t limit = a.abstract ? sun_path_size : sun_path_size - 1;
    if (path.size() > limit)
        return fail(uv_error(UV_ENAMETOOLONG, what + ": " + std::to_string(path.size()) +
                                                   " bytes, longer than the " + std::to_string(limit) +
                                                   " that fit in sun_path"));
    if (a.abstract) {
        // sun_path[0] = '\0', then the name; the length is exact, no NUL after.
        std::memcpy(a.sun.sun_path + 1, path.data() + 1, path.size() - 1);
        a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
    } else {
        std::memcpy(a.sun.sun_path, path.data(), path.size());
        a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    }
    return a;
}

const sockaddr* as_sockaddr(const Address& a) { return reinterpret_cast<const sockaddr*>(&a.sun); }

// A socket file at the path: replace it if it is stale (nobody bound to it),
// refuse if someone is, leave anything else alone.
Result<void> clear_stale(const std::string& path, const Address& addr) {
    const std::string what = "bind " + path;
    struct stat sb {};
    if (::lstat(path.c_str(), &sb) != 0) {
        if (errno == ENOENT) return {};
        return fail(uv_error(last_error(), what));
    }
    if (!S_ISSOCK(sb.st_mode)) return fail(uv_error(UV_EEXIST, what + ": not a socket, left alone"));
    // connect() on a datagram socket reaches a bound socket at once and gets
    // ECONNREFUSED from a file nobody is bound to any more.
    int probe = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (probe < 0) return fail(uv_error(last_error(), what + ": socket"));
    int rc = ::connect(probe, as_sockaddr(addr), addr.len);
    int err = errno;
    ::close(probe);
    if (rc == 0) return fail(uv_error(UV_EADDRINUSE, what + ": another socket is bound there"));
    if (err != ECONNREFUSED)
        return fail(uv_error(uv_translate_sys_error(err), what + ": probing the existing socket"));
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return fail(uv_error(last_error(), what + ": removing the stale socket"));
    return {};
}

}  // namespace

struct DatagramSocket::State {
    uv_poll_t poll{};
    int fd = -1;
    std::string path;
    bool owns_file = false;  // a filesystem socket bound here: unlink on close
    dev_t dev = 0;
    ino_t ino = 0;
    std::deque<Datagram> queue;
    std::optional<Error> error;  // sticky; reported once the queue is drained
    std::size_t dropped = 0;
    std::size_t received = 0;  // delivered so far
    bool polling = false;
    ReceiveAwaiter* waiter = nullptr;
    char buf[max_datagram];
    alignas(cmsghdr) char control[control_size];

    State() { poll.data = this; }

    uv_handle_t* handle() noexcept { return reinterpret_cast<uv_handle_t*>(&poll); }

    void start_polling() {
        if (polling || error) return;
        int rc = uv_poll_start(&poll, UV_READABLE, &State::on_poll);
        if (rc != 0) {
            set_error(uv_error(rc, "receive on " + path));
            return;
        }
        polling = true;
    }

    void stop_polling() noexcept {
        if (!polling) return;
        uv_poll_stop(&poll);
        polling = false;
    }

    void set_error(Error e) {
        stop_polling();
        error = e;
        if (waiter) waiter->finish(fail(std::move(e)));
    }

    static void on_poll(uv_poll_t* h, int status, int events) {
        auto* st = static_cast<State*>(h->data);
        if (status < 0) {
            st->polling = false;  // libuv stopped the handle itself
            st->set_error(uv_error(status, "receive on " + st->path));
            return;
        }
        if (events & UV_READABLE) st->drain();
    }

    // Reads every datagram the kernel holds, until EAGAIN or the queue is
    // full; returns how many it delivered.
    std::size_t drain() {
        std::size_t delivered = 0;
        while (queue.size() < queue_capacity) {
            iovec iov{buf, sizeof buf};
            msghdr msg{};
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
            ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return delivered;
                set_error(uv_error(last_error(), "receive on " + path));
                return delivered;
            }
            Datagram d;
            take_control(msg, d);
            // MSG_CTRUNC cannot cut the credentials (the kernel puts them
            // first) and the descriptors that did not fit were never installed,
            // so the message is still delivered.
            if (msg.msg_flags & MSG_TRUNC) {
                ++dropped;
                continue;
            }
            d.data.assign(buf, static_cast<std::size_t>(n));
            ++delivered;
            ++received;
            if (waiter) waiter->finish(std::move(d));
            else queue.push_back(std::move(d));
        }
        // Full: leave the rest in the kernel's queue (backpressure on the
        // senders) until receive() makes room.
        stop_polling();
        return delivered;
    }

    // Reads the credentials and closes every passed descriptor at once.
    static void take_control(msghdr& msg, Datagram& d) {
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET) continue;
            if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
                ucred u{};
                std::memcpy(&u, CMSG_DATA(c), sizeof u);
                d.pid = u.pid;
                d.uid = u.uid;
                d.gid = u.gid;
            } else if (c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(0)) {
                std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (std::size_t i = 0; i < count; ++i) {
                    int passed = -1;
                    std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                    if (passed >= 0) ::close(passed);
                }
            }
        }
    }
};

Result<DatagramSocket> DatagramSocket::bind(std::string path, mode_t mode) {
    const std::string what = "bind " + path;
    auto addr = make_address(path, what);
    if (!addr) return fail(std::move(addr).error());
    if (!addr->abstract) {
        auto cleared = clear_stale(path, *addr);
        if (!cleared) return fail(std::move(cleared).error());
    }

    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(uv_error(last_error(), what + ": socket"));
    // Every message then carries its sender's pid, uid and gid (the kernel
    // fills them in when the sender did not pass them explicitly).
    int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) {
        int err = last_error();
        ::close(fd);
        return fail(uv_error(err, what + ": SO_PASSCRED"));
    }
    if (::bind(fd, as_sockaddr(*addr), addr->len) != 0) {
        int err = last_error();
        ::close(fd);
        return fail(uv_error(err, what));
    }

    auto* st = new State;
    st->fd = fd;
    st->path = std::move(path);
    if (!addr->abstract) {
        st->owns_file = true;
        struct stat sb {};
        // bind() honours the umask only; fchmod on the fd does not reach the
        // file of an AF_UNIX socket, so chmod the path right after bind.
        if (::chmod(st->path.c_str(), mode) != 0 || ::lstat(st->path.c_str(), &sb) != 0) {
            int err = last_error();
            ::unlink(st->path.c_str());
            ::close(fd);
            delete st;
            return fail(uv_error(err, what + ": chmod"));
        }
        st->dev = sb.st_dev;
        st->ino = sb.st_ino;
    }
    int rc = uv_poll_init(Loop::current().uv(), &st->poll, fd);
    if (rc != 0) {  // the handle was not initialised: nothing to uv_close
        if (st->owns_file) ::unlink(st->path.c_str());
        ::close(fd);
        delete st;
        return fail(uv_error(rc, what + ": poll"));
    }
    // Polled from now on so nothing waits in the kernel, but the loop is kept
    // alive only while someone awaits receive().
    uv_unref(st->handle());
    st->start_polling();
    return DatagramSocket(st);
}

Result<void> DatagramSocket::send_to(const std::string& path, std::string_view data) {
    const std::string what = "send to " + path;
    auto addr = make_address(path, what);
    if (!addr) return fail(std::move(addr).error());
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(uv_error(last_error(), what + ": socket"));
    ssize_t n = ::sendto(fd, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL, as_sockaddr(*addr), addr->len);
    int err = n < 0 ? last_error() : 0;
    ::close(fd);
    if (err != 0) return fail(uv_error(err, what));
    return {};
}

DatagramSocket& DatagramSocket::operator=(DatagramSocket&& o) noexcept {
    if (this != &o) {
        close();
        st_ = std::exchange(o.st_, nullptr);
    }
    return *this;
}

std::string DatagramSocket::path() const { return st_ ? st_->path : std::string(); }
std::size_t DatagramSocket::pull() {
    if (!st_ || st_->error || st_->queue.size() >= queue_capacity) return 0;
    return st_->drain();
}

std::size_t DatagramSocket::received() const noexcept { return st_ ? st_->received : 0; }

std::size_t DatagramSocket::queued() const noexcept { return st_ ? st_->queue.size() : 0; }
std::size_t DatagramSocket::dropped() const noexcept { return st_ ? st_->dropped : 0; }

void DatagramSocket::close() noexcept {
    State* st = std::exchange(st_, nullptr);
    if (!st) return;
    if (ReceiveAwaiter* w = st->waiter) w->finish(fail(Errc::cancelled, "datagram socket " + st->path + " closed"));
    if (st->owns_file) {
        // Only the file we bound: a socket someone put there since stays.
        struct stat sb {};
        if (::lstat(st->path.c_str(), &sb) == 0 && S_ISSOCK(sb.st_mode) && sb.st_dev == st->dev &&
            sb.st_ino == st->ino)
            ::unlink(st->path.c_str());
    }
    st->queue.clear();
    // libuv must stop watching the fd before it is closed: close it in the
    // close callback, which also frees the state.
    uv_close(st->handle(), [](uv_handle_t* h) {
        auto* s = static_cast<State*>(h->data);
        ::close(s->fd);
        delete s;
    });
}

DatagramSocket::ReceiveAwaiter DatagramSocket::receive(std::stop_token stop) {
    return ReceiveAwaiter(st_, std::move(stop));
}

// ---- receive ----------------------------------------------------------------

DatagramSocket::ReceiveAwaiter::~ReceiveAwaiter() {
    hook_.detach();
    if (st_ && st_->waiter == this) {
        st_->waiter = nullptr;
        uv_unref(st_->handle());
    }
}

bool DatagramSocket::ReceiveAwaiter::await_ready() {
    if (!st_) {
        done_.complete(fail(Errc::cancelled, "receive on a closed datagram socket"));
    } else if (stop_.stop_requested()) {
        done_.complete(fail(Errc::cancelled));
    } else if (!st_->queue.empty()) {
        done_.complete(std::move(st_->queue.front()));
        st_->queue.pop_front();
        st_->start_polling();  // there is room again
    } else if (st_->error) {
        done_.complete(fail(*st_->error));
    }
    return done_.done();
}

void DatagramSocket::ReceiveAwaiter::await_suspend(std::coroutine_handle<> h) {
    assert(st_->waiter == nullptr && "DatagramSocket::receive awaited twice at once");
    done_.arm(h);
    st_->waiter = this;
    uv_ref(st_->handle());
    hook_.attach(stop_, Cancel{this});
}

Result<Datagram> DatagramSocket::ReceiveAwaiter::await_resume() {
    hook_.detach();
    return done_.take();
}

void DatagramSocket::ReceiveAwaiter::finish(Result<Datagram> r) {
    if (st_ && st_->waiter == this) {
        st_->waiter = nullptr;
        uv_unref(st_->handle());
    }
    st_ = nullptr;
    done_.complete(std::move(r));
}

}  // namespace reins
