#include "reins/supervisor/probe.hpp"

#include <csignal>

#include "reins/async/process.hpp"
#include "reins/async/tcp.hpp"
#include "reins/async/when.hpp"
#include "reins/http/client.hpp"

namespace reins::supervisor {
namespace {

Task<Result<void>> tcp_probe(ProbeTarget t, Millis timeout, std::stop_token stop) {
    auto ep = parse_endpoint(t.host, t.port);
    if (!ep) co_return fail(std::move(ep).error());
    auto conn = co_await tcp_connect(*ep, timeout, std::move(stop));
    if (!conn) co_return fail(std::move(conn).error());
    co_return Result<void>{};  // connected: the Stream closes as it goes out of scope
}

Task<Result<void>> exec_probe(ProbeTarget t, Millis timeout, std::stop_token stop) {
    ProcessOptions o;
    o.argv = {"/bin/sh", "-c", t.target};
    o.env = t.env;
    o.cwd = t.cwd;
    o.out = Stdio::null;
    o.err = Stdio::null;
    auto proc = Process::spawn(std::move(o));
    if (!proc) co_return fail(std::move(proc).error());
    auto wait = [&](std::stop_token s) { return proc->wait(std::move(s)); };
    auto st = co_await with_timeout(timeout, std::move(stop), wait);
    if (!st) {
        (void)proc->signal_group(SIGKILL);  // a check that hangs must not linger
        auto reaped = co_await proc->wait();
        (void)reaped;
        co_return fail(Error(st.error().code, "exec " + t.target + ": " + st.error().message()));
    }
    if (!st->success()) {
        std::string how = st->signal ? "killed by signal " + std::to_string(st->signal)
                                     : "exit " + std::to_string(st->code);
        co_return fail(Errc::probe_failed, "exec " + t.target + ": " + how);
    }
    co_return Result<void>{};
}

// The URL of an http target: a path on the service's host:port, or a full URL.
Result<http::Url> url_of(const ProbeTarget& t) {
    return http::parse_url(t.target, t.host == "localhost" ? "127.0.0.1" : t.host, t.port);
}

// One request; the status when an answer came in time.
Task<Result<int>> http_status(ProbeTarget t, std::string method, Millis timeout, std::stop_token stop) {
    auto url = url_of(t);
    if (!url) co_return fail(std::move(url).error());
    http::RequestOptions o;
    o.timeout = timeout;
    o.read_body = false;  // the status is all a probe needs
    auto r = co_await http::request(url->target, std::move(method), url->path, std::move(o), std::move(stop));
    if (!r) co_return fail(std::move(r).error());
    co_return r->status;
}

Task<Result<void>> http_probe(ProbeTarget t, Millis timeout, std::stop_token stop) {
    auto status = co_await http_status(t, "GET", timeout, std::move(stop));
    if (!status) co_return fail(std::move(status).error());
    if (*status >= 200 && *status < 400) co_return Result<void>{};
    co_return fail(Errc::probe_failed, "GET " + t.target + ": status " + std::to_string(*status));
}

}  // namespace

Task<Result<void>> http_action(ProbeTarget t, std::string method, Millis timeout, std::stop_token stop) {
    std::string what = method + " " + t.target;
    auto status = co_await http_status(std::move(t), std::move(method), timeout, std::move(stop));
    if (!status) co_return fail(std::move(status).error());
    if (*status >= 200 && *status < 300) co_return Result<void>{};
    co_return fail(Errc::probe_failed, what + ": not accepted (status " + std::to_string(*status) + ")");
}

std::string_view to_string(ProbeKind k) noexcept {
    switch (k) {
    case ProbeKind::none: return "none";
    case ProbeKind::tcp: return "tcp";
    case ProbeKind::http: return "http";
    case ProbeKind::exec: return "exec";
    case ProbeKind::log: return "log";
    case ProbeKind::notify: return "notify";
    case ProbeKind::watchdog: return "watchdog";
    }
    return "?";
}

std::string describe(const ProbeTarget& t) {
    switch (t.kind) {
    case ProbeKind::tcp: return "tcp " + t.host + ":" + std::to_string(t.port);
    case ProbeKind::http: {
        auto url = url_of(t);
        return "http " + (url ? url->target.to_string() + url->path : t.target);
    }
    case ProbeKind::exec: return "exec " + t.target;
    default: return std::string(to_string(t.kind));
    }
}

Task<Result<void>> probe_once(ProbeTarget t, Millis timeout, std::stop_token stop) {
    switch (t.kind) {
    case ProbeKind::tcp: {
        auto r = co_await tcp_probe(std::move(t), timeout, std::move(stop));
        co_return r;
    }
    case ProbeKind::exec: {
        auto r = co_await exec_probe(std::move(t), timeout, std::move(stop));
        co_return r;
    }
    case ProbeKind::http: {
        auto r = co_await http_probe(std::move(t), timeout, std::move(stop));
        co_return r;
    }
    default:
        co_return fail(Errc::probe_failed, std::string("no probe for kind ") + std::string(to_string(t.kind)));
    }
}

}  // namespace reins::supervisor
