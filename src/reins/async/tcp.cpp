#include "reins/async/duration_text.hpp"

#include <netinet/in.h>

#include <unistd.h>

#include <cerrno>
#include <memory>
#include <optional>

#include "reins/async/tcp.hpp"
#include "reins/async/when.hpp"

namespace reins {

// ---- Endpoint -----------------------------------------------------------------

std::string Endpoint::to_string() const {
    char name[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
        uv_ip4_name(reinterpret_cast<const sockaddr_in*>(&addr), name, sizeof name);
        return std::string(name) + ":" + std::to_string(port());
    }
    if (addr.ss_family == AF_INET6) {
        uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(&addr), name, sizeof name);
        std::string out = "[";  // appended, not "[" + ...: g++ 12 -O3 warns falsely (-Wrestrict)
        out += name;
        out += "]:";
        out += std::to_string(port());
        return out;
    }
    return "(no address)";
}

int Endpoint::port() const {
    if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
    if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
    return 0;
}

Result<Endpoint> parse_endpoint(std::string_view host, int port) {
    std::string h(host);
    if (port < 0 || port > 65535)
        return fail(uv_error(UV_EINVAL, "address " + h + ": port " + std::to_string(port) + " is not in 0-65535"));
    // uv_ip*_addr read a C string: an embedded NUL would silently cut it.
    bool ok_chars = h.find('\0') == std::string::npos && !h.empty();
    bool bracketed = h.size() >= 2 && h.front() == '[' && h.back() == ']';
    std::string ip = bracketed ? h.substr(1, h.size() - 2) : (h == "localhost" ? "127.0.0.1" : h);
    Endpoint ep;
    if (ok_chars) {
        if (!bracketed && uv_ip4_addr(ip.c_str(), port, reinterpret_cast<sockaddr_in*>(&ep.addr)) == 0) return ep;
        ep = Endpoint{};
        if (uv_ip6_addr(ip.c_str(), port, reinterpret_cast<sockaddr_in6*>(&ep.addr)) == 0) return ep;
    }
    return fail(uv_error(UV_EINVAL, "address \"" + h + "\" (expected a numeric IPv4 or IPv6 address, or localhost)"));
}

// ---- connect --------------------------------------------------------------------

struct ConnectAwaiter::Request {
    uv_connect_t req{};
    ConnectAwaiter* waiter = nullptr;

    // Always called, also after the handle was closed (then with UV_ECANCELED).
    static void on_connect(uv_connect_t* r, int status) {
        std::unique_ptr<Request> self(static_cast<Request*>(r->data));  // libuv hands it back
        ConnectAwaiter* a = self->waiter;
        if (!a) return;  // stopped or dropped: nobody waits
        a->req_ = nullptr;
        if (status == 0) a->done_.complete({});
        else a->done_.complete(fail(uv_error(status, "connect " + a->ep_.to_string())));
    }
};

ConnectAwaiter::~ConnectAwaiter() {
    hook_.detach();
    // Closing stream_ (a member, destroyed after this) makes libuv call
    // on_connect with UV_ECANCELED, which frees the request.
    if (req_) req_->waiter = nullptr;
}

bool ConnectAwaiter::await_ready() {
    if (stop_.stop_requested()) done_.complete(fail(Errc::cancelled, "connect " + ep_.to_string()));
    return done_.done();
}

void ConnectAwaiter::await_suspend(std::coroutine_handle<> h) {
    done_.arm(h);
    stream_ = Stream::new_tcp();
    auto req = std::make_unique<Request>();
    req->req.data = req.get();
    req->waiter = this;
    int rc = uv_tcp_connect(&req->req, reinterpret_cast<uv_tcp_t*>(stream_.uv()), ep_.sa(), &Request::on_connect);
    if (rc != 0) {
        done_.complete(fail(uv_error(rc, "connect " + ep_.to_string())));
        return;  // req freed here: libuv did not take it
    }
    req_ = req.release();
    hook_.attach(stop_, Cancel{this});
}

void ConnectAwaiter::Cancel::operator()() const noexcept {
    if (self->req_) std::exchange(self->req_, nullptr)->waiter = nullptr;
    self->stream_.close();  // the request's callback follows with UV_ECANCELED
    self->done_.complete(fail(Errc::cancelled, "connect " + self->ep_.to_string()));
}

Result<Stream> ConnectAwaiter::await_resume() {
    hook_.detach();
    Result<void> r = done_.take();
    if (!r) {
        stream_.close();
        return fail(std::move(r).error());
    }
    return std::move(stream_);
}

ConnectAwaiter tcp_connect(Endpoint ep, std::stop_token stop) { return ConnectAwaiter(ep, std::move(stop)); }

Task<Result<Stream>> tcp_connect(Endpoint ep, std::chrono::milliseconds timeout, std::stop_token stop) {
    // A named maker: g++ 12 miscompiles a capturing lambda in a co_await's full-expression.
    auto connect = [ep](std::stop_token s) { return tcp_connect(ep, std::move(s)); };
    auto r = co_await with_timeout(timeout, std::move(stop), std::move(connect));
    if (!r && r.error().is(Errc::timeout))
        co_return fail(Errc::timeout, "connect " + ep.to_string() + " after " + human_duration(timeout));
    co_return r;
}

// ---- listen / accept --------------------------------------------------------------

struct TcpListener::State final : detail::ListenState {
    Endpoint local() const {
        Endpoint ep;
        socklen_t len = sizeof ep.addr;
        if (fd >= 0) ::getsockname(fd, reinterpret_cast<sockaddr*>(&ep.addr), &len);
        return ep;
    }
    std::string name() const override { return local().to_string(); }

    Result<Stream> adopt(int client_fd) override {
        Stream client = Stream::new_tcp();
        int rc = uv_tcp_open(reinterpret_cast<uv_tcp_t*>(client.uv()), client_fd);
        if (rc != 0) {
            ::close(client_fd);
            return fail(uv_error(rc, "accept on " + name()));
        }
        return client;
    }
};

TcpListener::TcpListener(State* st) noexcept : Listener(st) {}

Result<TcpListener> TcpListener::listen(Endpoint ep, int backlog) {
    const std::string what = "listen " + ep.to_string();
    int fd = ::socket(ep.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return fail(uv_error(uv_translate_sys_error(errno), what + ": socket"));
    // As uv_tcp_bind does: a restarted supervisor rebinds past TIME_WAIT.
    int on = 1;
    socklen_t len = ep.addr.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    int rc = 0;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 || ::bind(fd, ep.sa(), len) != 0 ||
        ::listen(fd, backlog) != 0)
        rc = uv_translate_sys_error(errno);
    auto* st = new State;
    if (rc == 0) rc = uv_poll_init(Loop::current().uv(), &st->poll, fd);
    if (rc != 0) {
        ::close(fd);
        delete st;
        return fail(uv_error(rc, what));
    }
    st->fd = fd;
    return TcpListener(st);
}

Endpoint TcpListener::local() const { return st_ ? static_cast<const State*>(st_)->local() : Endpoint{}; }

}  // namespace reins
