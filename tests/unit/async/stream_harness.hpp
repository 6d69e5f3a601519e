// Streams for the async tests: both ends of a socketpair, reading a given
// number of bytes from one, and SIGPIPE ignored while a test writes to a
// closed peer.
#pragma once

#include <signal.h>
#include <sys/socket.h>

#include <cstddef>
#include <stop_token>
#include <string>
#include <utility>

#include "harness.hpp"
#include "reins/async/stream.hpp"

namespace reins::test {

/// Both ends of a fresh socketpair as Streams (needs the current Loop).
inline std::pair<Stream, Stream> stream_pair() {
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    auto a = Stream::open_fd(fds[0]);
    auto b = Stream::open_fd(fds[1]);
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    return {std::move(*a), std::move(*b)};
}

/// Reads until `n` bytes arrived or the stream ends/fails.
inline Task<std::string> read_n(Stream* s, std::size_t n, std::stop_token stop = {}) {
    std::string out;
    while (out.size() < n) {
        auto r = co_await s->read(stop);
        if (!r) break;
        out.append(*r);
    }
    co_return out;
}

/// Ignores SIGPIPE until the test ends, then restores the previous disposition.
struct IgnoreSigpipe {
    struct sigaction old {};
    IgnoreSigpipe() {
        struct sigaction ign {};
        ign.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &ign, &old);
    }
    ~IgnoreSigpipe() { sigaction(SIGPIPE, &old, nullptr); }
};

}  // namespace reins::test
