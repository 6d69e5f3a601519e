// TCP on 127.0.0.1 for tests: an endpoint, a port nobody listens on, and a
// listener whose connects hang.
#pragma once

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "reins/async/tcp.hpp"

namespace reins::test {

/// 127.0.0.1:`port`.
inline Endpoint loopback(int port = 0) {
    auto ep = parse_endpoint("127.0.0.1", port);
    REQUIRE(ep.has_value());
    return *ep;
}

/// A port nothing listens on (bound then released; nobody else races for it
/// on a test machine in the few microseconds before we connect).
inline int closed_port() {
    auto l = TcpListener::listen(loopback());
    REQUIRE(l.has_value());
    return l->local().port();
}

/// A listening socket nobody accepts from, with a backlog of 0: once one
/// connection fills its queue the kernel drops further SYNs, so connects hang
/// (the client retransmits for minutes). Plain fd: libuv would accept.
struct BlackHole {
    int fd = -1;
    Endpoint ep;
    BlackHole() {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd >= 0);
        Endpoint any = loopback();
        REQUIRE(::bind(fd, any.sa(), sizeof(sockaddr_in)) == 0);
        REQUIRE(::listen(fd, 0) == 0);
        socklen_t len = sizeof ep.addr;
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&ep.addr), &len) == 0);
    }
    BlackHole(const BlackHole&) = delete;
    BlackHole& operator=(const BlackHole&) = delete;
    ~BlackHole() { ::close(fd); }
};

/// Connects to the black hole until a connect hangs (queue full); keeps the
/// connections that got in. True once the queue is full.
inline Task<bool> fill_backlog(Endpoint ep, std::vector<Stream>* keep) {
    for (int i = 0; i < 16; ++i) {
        auto r = co_await tcp_connect(ep, std::chrono::milliseconds(200));
        if (!r) co_return r.error().is(Errc::timeout);
        keep->push_back(std::move(*r));
    }
    co_return false;
}

}  // namespace reins::test
