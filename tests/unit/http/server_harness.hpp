// A test server on a Unix socket (routes below) and a raw client that
// writes bytes by hand and reads responses with a reader of its own, so a
// bug in reins' HTTP code cannot hide itself.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "harness.hpp"
#include "reins/async/unix_socket.hpp"
#include "reins/http/server.hpp"
#include "temp_dir.hpp"

namespace reins::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// What the handlers saw.
struct Stats {
    int calls = 0;           ///< /count, /throw and /wait
    int streams_ended = 0;
    bool stream_stopped = false;  ///< a stream's stop token fired
    bool send_failed = false;     ///< a stream's send failed
    bool saw_stop = false;        ///< /wait saw the server stop
};

/// Options with short deadlines for tests.
inline http::ServerOptions fast_options() {
    http::ServerOptions o;
    o.limits = {4096, 4096};
    o.head_timeout = 300ms;
    o.body_timeout = 300ms;
    o.write_timeout = 300ms;
    return o;
}

http::Router test_router(Stats* stats);

inline UnixListener listen_at(const std::string& path) {
    auto l = UnixListener::listen(path);
    REQUIRE_MESSAGE(l.has_value(), l.error().message());
    return std::move(*l);
}

/// A server on a fresh socket; `stop` stops it (the client may use it).
struct TestServer {
    TempDir dir{"http"};
    Stats stats;
    http::Server server;
    std::stop_source stop;
    std::optional<Clock::time_point> ended;  ///< when run() returned

    explicit TestServer(http::ServerOptions o = fast_options())
        : server(listen_at(dir / "api.sock"), test_router(&stats), std::move(o)) {}
    std::string path() const { return server.path(); }
};

/// Runs the server and `client` side by side; the client's end stops the server.
Task<void> serve_while(TestServer* ts, Task<void> client);

/// A response as the test reader saw it.
struct RawResponse {
    int status = 0;
    std::string head;
    std::string body;
    std::optional<std::string> header(const std::string& name) const;
};

/// A client connection with its unread input.
struct Conn {
    Stream s;
    std::string buf;
    bool eof = false;
};

/// Connects to the test server (REQUIREs success).
Task<Conn> connect(TestServer* ts);
/// Writes `bytes` (REQUIREs success).
Task<void> send(Conn* c, std::string bytes);
/// The next complete response (Content-Length or chunked; no body for
/// `head`), or nothing on EOF, error or timeout.
Task<std::optional<RawResponse>> next_response(Conn* c, bool head = false, std::chrono::milliseconds timeout = 5s);
/// Reads until EOF (true) or the timeout (false); the bytes stay in c->buf.
Task<bool> read_to_eof(Conn* c, std::chrono::milliseconds timeout = 5s);
/// Reads until c->buf holds `n` bytes or more (false on EOF/timeout).
Task<bool> read_at_least(Conn* c, std::size_t n, std::chrono::milliseconds timeout = 5s);
/// Sends `bytes` on a new connection and expects a JSON error with `status`,
/// then the connection closed, and no handler run.
Task<void> expect_refusal(TestServer* ts, std::string bytes, int status);
/// Polls `flag()` every 5 ms for at most `timeout`.
template <class Pred>
Task<bool> eventually(Pred pred, std::chrono::milliseconds timeout = 3s) {
    auto until = Clock::now() + timeout;
    while (!pred()) {
        if (Clock::now() > until) co_return false;
        auto s = co_await sleep(5ms);
        (void)s;
    }
    co_return true;
}

/// "GET /path HTTP/1.1" with a Host header (and `extra` header lines).
inline std::string get(const std::string& target, const std::string& extra = {}) {
    return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

}  // namespace reins::test
