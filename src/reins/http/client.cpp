#include "reins/async/duration_text.hpp"

#include <uv.h>

#include <charconv>
#include <memory>

#include "reins/async/close_handle.hpp"
#include "reins/async/loop.hpp"
#include "reins/async/unix_socket.hpp"
#include "reins/http/client.hpp"

namespace reins::http {

namespace {

class ClientCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "reins.http"; }
    std::string message(int ev) const override {
        switch (static_cast<ClientErrc>(ev)) {
        case ClientErrc::malformed_response: return "malformed response";
        case ClientErrc::head_too_large: return "response head too large";
        case ClientErrc::body_too_large: return "response body too large";
        case ClientErrc::closed_early: return "closed early";
        case ClientErrc::invalid_request: return "invalid request";
        }
        return "unknown HTTP client error " + std::to_string(ev);
    }
};

// One uv timer for the whole request. When it fires it requests stop on the
// request's stop_source, which the connect, the write and every read watch,
// so whichever step is pending is cancelled at once. (with_timeout around
// each step would cost a scope and two coroutine frames a step.) The timer
// lives in heap state freed by its close callback, like every uv handle.
class Deadline {
public:
    Deadline(std::chrono::milliseconds d, std::stop_source* source) : st_(new State) {
        st_->source = source;
        uv_timer_init(Loop::current().uv(), &st_->timer);
        st_->timer.data = st_;
        uv_update_time(st_->timer.loop);  // uv_now is cached per turn; count from now
        auto ms = static_cast<uint64_t>(d.count() > 0 ? d.count() : 0);
        uv_timer_start(&st_->timer, &Deadline::on_fire, ms, 0);
    }
    ~Deadline() {
        st_->source = nullptr;
        reins::detail::close_and_delete<State>(&st_->timer);
    }
    Deadline(const Deadline&) = delete;
    Deadline& operator=(const Deadline&) = delete;

    bool expired() const noexcept { return st_->fired; }

private:
    struct State {
        uv_timer_t timer{};
        std::stop_source* source = nullptr;
        bool fired = false;
    };
    // Stop callbacks only complete awaiters (they schedule, never resume), so
    // requesting stop from a libuv callback is safe.
    static void on_fire(uv_timer_t* t) {
        auto* st = static_cast<State*>(t->data);
        st->fired = true;
        if (st->source) st->source->request_stop();
    }
    State* st_;
};

// The caller's stop reaches the request's own stop_source.
struct ForwardStop {
    std::stop_source* source;
    void operator()() const noexcept { source->request_stop(); }
};

bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_tchar(c)) return false;
    return true;
}
// An origin-form target: no spaces, controls or bytes a server might split on.
bool is_target(std::string_view s) {
    if (s.empty() || (s.front() != '/' && s != "*")) return false;
    for (char c : s)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
    return true;
}
bool is_field_value(std::string_view s) {
    for (char c : s)
        if (c == '\r' || c == '\n' || c == '\0') return false;
    return true;
}

std::string label(const Target& t, std::string_view method, std::string_view path) {
    std::string s(method);
    if (t.is_unix()) {
        s += ' ';
        s += path;
        s += " on unix:";
        s += std::get<1>(t.where);
    } else {
        s += " http://";
        s += std::get<0>(t.where).to_string();
        s += path;
    }
    return s;
}

// What the request fails with when its stop_source was stopped: the deadline
// (saying what had not happened yet) or the caller.
Error interrupted(const Deadline& deadline, const std::string& who, std::chrono::milliseconds timeout,
                  std::string_view missing, std::size_t received = 0) {
    if (!deadline.expired()) return Error(Errc::cancelled, who);
    std::string s = who + ": " + std::string(missing) + " within " + human_duration(timeout);
    if (received > 0) s += " (" + std::to_string(received) + " bytes received)";
    return Error(Errc::timeout, std::move(s));
}

std::string_view missing_part(const ResponseParser& p) {
    if (p.bytes_seen() == 0) return "no status line";
    if (!p.head_complete()) return "no complete status line and headers";
    return "no complete body";
}

// Where in the response the connection broke off.
std::string broke_off(const ResponseParser& p) {
    if (p.bytes_seen() == 0) return "before the status line";
    if (!p.head_complete()) return "in the response head (after " + std::to_string(p.bytes_seen()) + " bytes)";
    return "in the body (after " + std::to_string(p.response().body.size()) + " bytes)";
}

Error client_error(ClientErrc e, std::string context) { return Error(make_error_code(e), std::move(context)); }

// A peer that closed before taking the request closed early too, whichever
// of EOF, EPIPE or ECONNRESET the timing shows us.
Error send_failed(const Error& e, const std::string& who) {
    if (e.code == std::error_code(UV_EPIPE, libuv_category()) ||
        e.code == std::error_code(UV_ECONNRESET, libuv_category()))
        return client_error(ClientErrc::closed_early, who + ": connection closed before the request was sent (" +
                                                          uv_err_name(e.code.value()) + ")");
    return Error(e.code, who + ": sending the request");
}

// The request head (and body) in one buffer of exactly the right size. An
// empty string on success, else what is wrong.
std::string build_request(const Target& target, std::string_view method, std::string_view path,
                          const RequestOptions& o, std::string& out) {
    if (!is_token(method)) return "method is not an HTTP token";
    if (!is_target(path)) return "path must start with '/' and contain no spaces or control characters";
    bool own_host = false;
    for (const Header& h : o.headers) {
        if (!is_token(h.name)) return "header name \"" + h.name + "\" is not an HTTP token";
        if (!is_field_value(h.value)) return "header " + h.name + " contains CR, LF or NUL";
        own_host = own_host || iequals(h.name, "host");
    }
    auto ignored = [](const Header& h) { return iequals(h.name, "connection") || iequals(h.name, "content-length") ||
                                                iequals(h.name, "transfer-encoding"); };
    std::string host = own_host ? std::string() : target.host();
    bool send_length = !o.body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
    char len[24];
    auto [end, ec] = std::to_chars(len, len + sizeof len, o.body.size());
    std::string_view length(len, static_cast<std::size_t>(end - len));

    std::size_t size = method.size() + 1 + path.size() + 11 + 19 + 2 + o.body.size();  // line, Connection, end
    if (!own_host) size += 6 + host.size() + 2;
    if (send_length) size += 16 + length.size() + 2;
    for (const Header& h : o.headers)
        if (!ignored(h)) size += h.name.size() + 2 + h.value.size() + 2;
    out.reserve(size);
    out.append(method).append(" ").append(path).append(" HTTP/1.1\r\n");
    if (!own_host) out.append("Host: ").append(host).append("\r\n");
    out.append("Connection: close\r\n");
    if (send_length) out.append("Content-Length: ").append(length).append("\r\n");
    for (const Header& h : o.headers)
        if (!ignored(h)) out.append(h.name).append(": ").append(h.value).append("\r\n");
    out.append("\r\n").append(o.body);
    return {};
}

}  // namespace

const std::error_category& client_category() noexcept {
    static const ClientCategory c;
    return c;
}

std::string Target::to_string() const {
    if (is_unix()) return "unix:" + std::get<1>(where);
    return std::get<0>(where).to_string();
}

std::string Target::host() const { return is_unix() ? std::string("localhost") : std::get<0>(where).to_string(); }

Result<Url> parse_url(std::string_view url, std::string_view default_host, int default_port) {
    auto bad = [&](const std::string& why) {
        return fail(uv_error(UV_EINVAL, "url \"" + std::string(url) + "\": " + why));
    };
    auto path_of = [](std::string_view rest) {
        rest = rest.substr(0, rest.find('#'));
        if (rest.empty() || rest.front() != '/') return "/" + std::string(rest);  // "" or "?q"
        return std::string(rest);
    };
    if (!url.empty() && url.front() == '/') {
        std::string path = path_of(url);
        if (!is_target(path)) return bad("the path contains spaces or control characters");
        auto ep = parse_endpoint(default_host, default_port);
        if (!ep) return fail(std::move(ep).error());
        return Url{Target::tcp(*ep), std::move(path)};
    }
    auto sep = url.find("://");
    std::string scheme(url.substr(0, sep == std::string_view::npos ? 0 : sep));
    for (char& c : scheme) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (scheme == "https") return bad("https is not supported (probes speak plain HTTP on loopback)");
    if (scheme != "http") return bad("expected http://HOST[:PORT][/PATH] or /PATH");
    std::string_view rest = url.substr(sep + 3);
    std::size_t auth_end = rest.find_first_of("/?#");
    std::string_view auth = rest.substr(0, auth_end);
    std::string path = path_of(auth_end == std::string_view::npos ? std::string_view() : rest.substr(auth_end));
    if (!is_target(path)) return bad("the path contains spaces or control characters");
    if (auth.find('@') != std::string_view::npos) return bad("user info is not supported");
    std::string_view host = auth;
    std::string_view port_text;
    if (!auth.empty() && auth.front() == '[') {
        std::size_t close = auth.find(']');
        if (close == std::string_view::npos) return bad("missing ']' after the IPv6 address");
        host = auth.substr(0, close + 1);
        std::string_view after = auth.substr(close + 1);
        if (!after.empty() && after.front() != ':') return bad("expected ':PORT' after ']'");
        if (!after.empty()) port_text = after.substr(1);
    } else if (std::size_t colon = auth.find(':'); colon != std::string_view::npos) {
        if (auth.find(':', colon + 1) != std::string_view::npos) return bad("an IPv6 address must be in brackets");
        host = auth.substr(0, colon);
        port_text = auth.substr(colon + 1);
    }
    if (host.empty()) return bad("no host");
    int port = 80;
    if (!port_text.empty() || auth.back() == ':') {
        auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc() || p != port_text.data() + port_text.size() || port < 1 || port > 65535)
            return bad("the port must be a number in 1-65535");
    }
    auto ep = parse_endpoint(host, port);
    if (!ep) return bad(ep.error().context);
    return Url{Target::tcp(*ep), std::move(path)};
}

Task<Result<ClientResponse>> request(Target target, std::string method, std::string path, RequestOptions options,
                                     std::stop_token stop) {
    std::string head;
    if (std::string why = build_request(target, method, path, options, head); !why.empty())
        co_return fail(client_error(ClientErrc::invalid_request, label(target, method, path) + ": " + why));

    std::stop_source source;
    std::stop_callback<ForwardStop> forward(stop, ForwardStop{&source});
    Deadline deadline(options.timeout, &source);
    std::stop_token token = source.get_token();

    Stream stream;
    if (target.is_unix()) {
        auto c = co_await unix_connect(std::get<1>(target.where), token);
        if (!c && c.error().is(Errc::cancelled))
            co_return fail(interrupted(deadline, label(target, method, path), options.timeout, "not connected"));
        if (!c) co_return fail(Error(c.error().code, label(target, method, path) + ": connect"));
        stream = std::move(*c);
    } else {
        auto c = co_await tcp_connect(std::get<0>(target.where), token);
        if (!c && c.error().is(Errc::cancelled))
            co_return fail(interrupted(deadline, label(target, method, path), options.timeout, "not connected"));
        if (!c) co_return fail(Error(c.error().code, label(target, method, path) + ": connect"));
        stream = std::move(*c);
    }

    // A failed write is kept, not returned at once: a server that answers
    // without reading the request (and closes) may still have said enough.
    auto sent = co_await stream.write(std::move(head), token);
    if (!sent && sent.error().is(Errc::cancelled))
        co_return fail(interrupted(deadline, label(target, method, path), options.timeout, "request not sent"));

    ResponseParser parser(ResponseParserOptions{
        .max_head = options.max_head,
        .max_body = options.max_body,
        .head_request = method == "HEAD",
        .headers_only = !options.read_body,
    });
    for (;;) {
        auto chunk = co_await stream.read(token);
        if (chunk) {
            if (parser.feed(*chunk) != ResponseParser::State::more) break;
            continue;
        }
        const Error& e = chunk.error();
        if (e.is(Errc::end_of_stream)) {
            parser.finish();
            break;
        }
        if (e.is(Errc::cancelled))
            co_return fail(interrupted(deadline, label(target, method, path), options.timeout, missing_part(parser),
                                       parser.bytes_seen()));
        if (!sent && parser.bytes_seen() == 0)  // the write's error says more
            co_return fail(send_failed(sent.error(), label(target, method, path)));
        if (e.code == std::error_code(UV_ECONNRESET, libuv_category()))
            co_return fail(client_error(ClientErrc::closed_early,
                                        label(target, method, path) + ": connection reset " + broke_off(parser)));
        co_return fail(Error(e.code, label(target, method, path) + ": read"));
    }

    if (parser.state() == ResponseParser::State::done) co_return parser.take();
    if (!sent && parser.bytes_seen() == 0) co_return fail(send_failed(sent.error(), label(target, method, path)));
    ClientErrc why = ClientErrc::closed_early;
    switch (parser.failure()) {
    case ResponseParser::Failure::malformed: why = ClientErrc::malformed_response; break;
    case ResponseParser::Failure::head_too_large: why = ClientErrc::head_too_large; break;
    case ResponseParser::Failure::body_too_large: why = ClientErrc::body_too_large; break;
    default: break;
    }
    co_return fail(client_error(why, label(target, method, path) + ": " + parser.describe_failure()));
}

}  // namespace reins::http
