#include "reins/async/unix_socket.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <optional>


namespace reins {
namespace {

constexpr std::size_t sun_path_size = sizeof(sockaddr_un::sun_path);

int last_error() { return uv_translate_sys_error(errno); }

// A file descriptor closed when it goes out of scope.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        std::swap(fd_, o.fd_);
        return *this;
    }
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const noexcept { return fd_; }
    int release() noexcept { return std::exchange(fd_, -1); }

private:
    int fd_ = -1;
};

// A sockaddr_un for a path of any length. A path too long for sun_path is
// reached through /proc/self/fd/<dirfd>/<name>; `dir` keeps that fd open
// while the address is used.
struct UnixAddress {
    sockaddr_un sun{};
    socklen_t len = 0;
    Fd dir;

    const sockaddr* sa() const noexcept { return reinterpret_cast<const sockaddr*>(&sun); }
};

// `what` names the operation in errors ("listen /run/x.sock").
Result<UnixAddress> unix_address(const std::string& path, const std::string& what) {
    if (path.empty()) return fail(uv_error(UV_EINVAL, what + ": empty socket path"));
    if (path.find('\0') != std::string::npos) return fail(uv_error(UV_EINVAL, what + ": NUL byte in socket path"));
    UnixAddress a;
    a.sun.sun_family = AF_UNIX;
    std::string target = path;
    if (path.size() > sun_path_size - 1) {
        std::size_t slash = path.rfind('/');
        if (slash == std::string::npos)
            return fail(uv_error(UV_ENAMETOOLONG, what + ": a name of " + std::to_string(path.size()) +
                                                      " bytes does not fit in sun_path"));
        std::string dir = slash == 0 ? std::string("/") : path.substr(0, slash);
        std::string name = path.substr(slash + 1);
        if (name.empty()) return fail(uv_error(UV_EINVAL, what + ": the path names a folder"));
        int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) return fail(uv_error(last_error(), what + ": opening its folder"));
        a.dir = Fd(fd);
        target = "/proc/self/fd/" + std::to_string(fd) + "/" + name;
        if (target.size() > sun_path_size - 1)
            return fail(uv_error(UV_ENAMETOOLONG, what + ": the file name alone (" + std::to_string(name.size()) +
                                                      " bytes) does not fit in sun_path"));
    }
    std::memcpy(a.sun.sun_path, target.data(), target.size());
    a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + target.size() + 1);
    return a;
}

// A socket file at the path: replace it if it is stale (nobody listening),
// refuse if someone is, leave anything else alone.
Result<void> clear_stale(const std::string& path, const UnixAddress& addr, const std::string& what) {
    struct stat sb {};
    if (::lstat(path.c_str(), &sb) != 0) {
        if (errno == ENOENT) return {};
        return fail(uv_error(last_error(), what));
    }
    if (!S_ISSOCK(sb.st_mode)) return fail(uv_error(UV_EEXIST, what + ": not a socket, left alone"));
    Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (probe.get() < 0) return fail(uv_error(last_error(), what + ": socket"));
    int rc = ::connect(probe.get(), addr.sa(), addr.len);
    int err = errno;
    // EAGAIN: someone listens, with a full backlog.
    if (rc == 0 || err == EAGAIN) return fail(uv_error(UV_EADDRINUSE, what + ": another process listens there"));
    if (err != ECONNREFUSED) return fail(uv_error(uv_translate_sys_error(err), what + ": probing the existing socket"));
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return fail(uv_error(last_error(), what + ": removing the stale socket"));
    return {};
}

}  // namespace

// ---- peer credentials / connect ------------------------------------------------

Result<PeerCredentials> peer_credentials(const Stream& s) {
    if (!s) return fail(uv_error(UV_EBADF, "peer credentials of a closed stream"));
    uv_os_fd_t fd = -1;
    int rc = uv_fileno(reinterpret_cast<const uv_handle_t*>(s.uv()), &fd);
    if (rc != 0) return fail(uv_error(rc, "peer credentials"));
    // On other sockets the kernel answers too (pid 0, the overflow uid):
    // refuse, so a TCP peer is never taken for uid 65534.
    sockaddr_storage local{};
    socklen_t local_len = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0)
        return fail(uv_error(last_error(), "peer credentials"));
    if (local.ss_family != AF_UNIX) return fail(uv_error(UV_EINVAL, "peer credentials: not a Unix socket"));
    ucred u{};
    socklen_t len = sizeof u;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &u, &len) != 0)
        return fail(uv_error(last_error(), "peer credentials"));
    return PeerCredentials{u.pid, u.uid, u.gid};
}

Result<Stream> UnixConnectAwaiter::await_resume() {
    const std::string what = "connect " + path_;
    if (stop_.stop_requested()) return fail(Errc::cancelled, what);
    auto addr = unix_address(path_, what);
    if (!addr) return fail(std::move(addr).error());
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (fd.get() < 0) return fail(uv_error(last_error(), what + ": socket"));
    // Non-blocking: done at once, or EAGAIN when the backlog is full (never
    // EINPROGRESS for AF_UNIX), so the loop never waits here.
    if (::connect(fd.get(), addr->sa(), addr->len) != 0) return fail(uv_error(last_error(), what));
    auto s = Stream::open_fd(fd.release());
    if (!s) return fail(Error(s.error().code, what + ": " + s.error().context));
    return s;
}

UnixConnectAwaiter unix_connect(std::string path, std::stop_token stop) {
    return UnixConnectAwaiter(std::move(path), std::move(stop));
}

// ---- listen / accept --------------------------------------------------------------

struct UnixListener::State final : detail::ListenState {
    std::string path;
    dev_t dev = 0;  // the file we created, so close() unlinks only that one
    ino_t ino = 0;

    std::string name() const override { return path; }

    Result<Stream> adopt(int client_fd) override {
        auto s = Stream::open_fd(client_fd);
        if (!s) return fail(Error(s.error().code, "accept on " + path + ": " + s.error().context));
        return s;
    }

    void on_close() noexcept override {
        struct stat sb {};
        if (::lstat(path.c_str(), &sb) == 0 && S_ISSOCK(sb.st_mode) && sb.st_dev == dev && sb.st_ino == ino)
            ::unlink(path.c_str());
    }
};

UnixListener::UnixListener(State* st) noexcept : Listener(st) {}

Result<UnixListener> UnixListener::listen(std::string path, mode_t mode, int backlog) {
    const std::string what = "listen " + path;
    auto addr = unix_address(path, what);
    if (!addr) return fail(std::move(addr).error());
    auto cleared = clear_stale(path, *addr, what);
    if (!cleared) return fail(std::move(cleared).error());

    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (fd.get() < 0) return fail(uv_error(last_error(), what + ": socket"));
    if (::bind(fd.get(), addr->sa(), addr->len) != 0) return fail(uv_error(last_error(), what));
    // bind() honours only the umask, and fchmod does not reach the file of
    // an AF_UNIX socket: chmod the path, before listen() lets anyone in.
    struct stat sb {};
    if (::chmod(path.c_str(), mode) != 0 || ::lstat(path.c_str(), &sb) != 0) {
        int err = last_error();
        ::unlink(path.c_str());
        return fail(uv_error(err, what + ": chmod"));
    }

    auto* st = new State;
    st->path = std::move(path);
    st->dev = sb.st_dev;
    st->ino = sb.st_ino;
    if (::listen(fd.get(), backlog) != 0) {
        int err = last_error();
        ::unlink(st->path.c_str());
        delete st;
        return fail(uv_error(err, what));
    }
    int rc = uv_poll_init(Loop::current().uv(), &st->poll, fd.get());
    if (rc != 0) {
        ::unlink(st->path.c_str());
        delete st;
        return fail(uv_error(rc, what));  // Fd closes the socket
    }
    st->fd = fd.release();
    return UnixListener(st);
}

std::string UnixListener::path() const { return st_ ? static_cast<const State*>(st_)->path : std::string(); }

}  // namespace reins
