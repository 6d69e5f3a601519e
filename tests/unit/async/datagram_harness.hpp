// Helpers of the datagram tests: unique abstract names and a receive
// bounded in time.
#pragma once

#include <unistd.h>

#include <chrono>
#include <stop_token>
#include <string>
#include <utility>

#include "harness.hpp"
#include "reins/async/datagram.hpp"

namespace reins::test {

/// A fresh abstract socket name ("@..."), unique in this process.
inline std::string abstract_name() {
    static int counter = 0;
    return "@reins-test-dgram-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

struct Receive {
    DatagramSocket* sock;
    DatagramSocket::ReceiveAwaiter operator()(std::stop_token s) const { return sock->receive(std::move(s)); }
};

/// receive(), bounded in time so a lost message fails the test instead of hanging it.
inline Task<Result<Datagram>> recv_within(DatagramSocket* s, std::chrono::milliseconds d = 5s) {
    auto r = co_await with_timeout(d, {}, Receive{s});
    co_return r;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace reins::test
