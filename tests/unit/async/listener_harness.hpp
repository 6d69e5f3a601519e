// What the TCP and Unix socket tests check alike, over either kind of
// listener: a connection's round trip, and a pending accept cancelled by
// its token or by the listener's end.
#pragma once

#include <memory>
#include <stop_token>
#include <string>
#include <utility>

#include "harness.hpp"
#include "reins/async/listener.hpp"
#include "reins/async/tcp.hpp"
#include "reins/async/unix_socket.hpp"
#include "stream_harness.hpp"

namespace reins::test {

/// Connects to a TCP endpoint or to a Unix socket's path.
inline ConnectAwaiter connect_to(const Endpoint& ep) { return tcp_connect(ep); }
inline UnixConnectAwaiter connect_to(const std::string& path) { return unix_connect(path); }

/// Connects to `address` (an Endpoint or a path), accepts on `l`, sends one
/// message each way; the client's close is the server's end_of_stream.
template <class Address>
Task<void> round_trip(Listener* l, Address address) {
    auto client = co_await connect_to(address);
    REQUIRE(client.has_value());
    auto server = co_await l->accept();
    REQUIRE(server.has_value());
    auto w = co_await client->write("ping");
    CHECK(w.has_value());
    auto got = co_await read_n(&*server, 4);
    CHECK(got == "ping");
    auto w2 = co_await server->write("pong");
    CHECK(w2.has_value());
    auto back = co_await read_n(&*client, 4);
    CHECK(back == "pong");
    client->close();
    auto eof = co_await server->read();
    REQUIRE_FALSE(eof.has_value());
    CHECK(eof.error().is(Errc::end_of_stream));
}

namespace detail {
inline Task<void> accept_into(Listener* l, std::stop_token stop, Result<Stream>* out) {
    *out = co_await l->accept(std::move(stop));
}
}  // namespace detail

/// An accept pending on `l` whose token is stopped completes with cancelled.
inline Task<void> stopped_accept_is_cancelled(Listener* l) {
    std::stop_source src;
    Result<Stream> got = fail(Errc::timeout);
    TaskScope scope = TaskScope::shielded();
    scope.spawn(detail::accept_into(l, src.get_token(), &got));
    co_await sleep(10ms);
    src.request_stop();
    co_await scope.join();
    REQUIRE_FALSE(got.has_value());
    CHECK(got.error().is(Errc::cancelled));
}

/// Destroying the listener `*owned` while an accept is pending on it
/// completes the accept with cancelled.
template <class SocketListener>
Task<void> destroyed_listener_cancels_accept(std::unique_ptr<SocketListener>* owned) {
    Result<Stream> got = fail(Errc::timeout);
    TaskScope scope = TaskScope::shielded();
    scope.spawn(detail::accept_into(owned->get(), {}, &got));
    co_await sleep(5ms);
    owned->reset();
    co_await scope.join();
    REQUIRE_FALSE(got.has_value());
    CHECK(got.error().is(Errc::cancelled));
}

}  // namespace reins::test
