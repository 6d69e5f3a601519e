// Helpers of the client tests: the fixture server as a child process, a
// scripted one-connection responder for exact byte sequences, and checks.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "harness.hpp"
#include "loopback.hpp"
#include "reins/async/line_reader.hpp"
#include "reins/async/process.hpp"
#include "reins/async/tcp.hpp"
#include "reins/async/unix_socket.hpp"
#include "reins/http/client.hpp"

namespace reins::test {

/// Request options with a deadline of `ms` milliseconds.
inline http::RequestOptions with_timeout_ms(int ms) {
    http::RequestOptions o;
    o.timeout = std::chrono::milliseconds(ms);
    return o;
}

/// The error's message contains `text`.
inline bool has(const Error& e, std::string_view text) { return e.message().find(text) != std::string::npos; }

/// A running tools/fixture server (REINS_FIXTURE). Its Process, in a session
/// of its own, is SIGKILLed with its group when the Fixture goes away, even
/// when a check failed (Process's destructor; the Loop reaps it).
struct Fixture {
    Process proc;
    Stream out;  // its stdout: kept open, so it never writes to a closed pipe
    Endpoint ep;
    http::Target target() const { return http::Target::tcp(ep); }
};

/// Starts the fixture with `--port 0` plus `args` and reads its port from
/// the "fixture: listening on 127.0.0.1:N" line. False (with a failed check)
/// when it cannot.
inline Task<bool> start_fixture(Fixture* f, std::vector<std::string> args) {
    const char* exe = std::getenv("REINS_FIXTURE");
    CHECK_MESSAGE(exe != nullptr, "REINS_FIXTURE is not set (meson test sets it)");
    if (!exe) co_return false;
    ProcessOptions o;
    o.argv = {exe, "--port", "0"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.err = Stdio::inherit;
    auto p = Process::spawn(std::move(o));
    CHECK_MESSAGE(p.has_value(), (p ? std::string() : p.error().message()));
    if (!p) co_return false;
    f->proc = std::move(*p);
    f->out = f->proc.take_stdout();
    LineReader lines(f->out);
    auto next = [&lines](std::stop_token s) { return lines.next(std::move(s)); };
    auto line = co_await with_timeout(5s, {}, next);
    CHECK_MESSAGE(line.has_value(), (line ? std::string() : line.error().message()));
    if (!line) co_return false;
    const std::string prefix = "fixture: listening on 127.0.0.1:";
    CHECK_MESSAGE(line->text.rfind(prefix, 0) == 0, line->text);
    if (line->text.rfind(prefix, 0) != 0) co_return false;
    f->ep = loopback(std::stoi(line->text.substr(prefix.size())));
    co_return true;
}

/// What a scripted responder does with its one connection.
struct Script {
    std::vector<std::string> pieces;            ///< written one by one, `gap` apart
    std::chrono::milliseconds gap{5};
    bool reset = false;                         ///< end with RST instead of FIN
    bool hold = false;                          ///< keep the connection until the client closes
    bool read_request = true;                   ///< false: answer (or reset) without reading
    std::string* request = nullptr;             ///< the request head (and body) as received
};

namespace detail {
inline bool request_complete(const std::string& r) {
    auto end = r.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    auto cl = r.find("Content-Length: ");
    if (cl == std::string::npos || cl > end) return true;
    return r.size() >= end + 4 + std::stoul(r.substr(cl + 16));
}
}  // namespace detail

/// Accepts one connection on `listener` (TcpListener or UnixListener),
/// reads the request, then plays `script`.
template <class Listener>
Task<void> respond(Listener* listener, Script script, std::stop_token stop) {
    auto accepted = co_await listener->accept(stop);
    if (!accepted) co_return;
    Stream c = std::move(*accepted);
    std::string req;
    while (script.read_request && !detail::request_complete(req)) {
        auto r = co_await c.read(stop);
        if (!r) break;
        req.append(*r);
    }
    if (script.request) *script.request = req;
    for (std::string& piece : script.pieces) {
        auto s = co_await sleep(script.gap, stop);
        if (!s) co_return;
        auto w = co_await c.write(std::move(piece), stop);
        if (!w) co_return;
    }
    if (script.reset) {
        int fd = -1;
        uv_fileno(reinterpret_cast<uv_handle_t*>(c.uv()), &fd);
        linger l{1, 0};  // close() then sends RST
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    while (script.hold) {
        auto r = co_await c.read(stop);
        if (!r) break;
    }
}

}  // namespace reins::test
