#include "server_harness.hpp"

#include <stdexcept>

#include <nlohmann/json.hpp>

namespace reins::test {

using http::Request;
using http::Response;
using http::ResponseStream;

namespace {

// ---- handlers (plain functions taking state by pointer: no capturing coroutine lambdas)

Task<Response> hello(Request, std::stop_token) { co_return Response::text("hello"); }

Task<Response> echo(Request r, std::stop_token) {
    Response out = Response::text(r.body);
    out.headers.push_back({"X-Method", r.method});
    co_return out;
}

Task<Response> params(Request r, std::stop_token) { co_return Response::json(r.params); }
Task<Response> query(Request r, std::stop_token) { co_return Response::json(r.query); }

Task<Response> whoami(Request r, std::stop_token) {
    if (!r.peer) co_return Response::json(nullptr);
    co_return Response::json({{"pid", r.peer->pid}, {"uid", r.peer->uid}, {"gid", r.peer->gid}});
}

Task<Response> count(Stats* st, Request r, std::stop_token) {
    ++st->calls;
    co_return Response::text(std::to_string(st->calls) + " " + r.path);
}

// Sleeps ?ms= milliseconds first: pipelined answers must still come in order.
Task<Response> slow(Request r, std::stop_token stop) {
    int ms = r.query.count("ms") ? std::atoi(r.query["ms"].c_str()) : 50;
    auto s = co_await sleep(std::chrono::milliseconds(ms), stop);
    (void)s;
    co_return Response::text("slow " + std::to_string(ms));
}

Task<Response> thrower(Stats* st, Request, std::stop_token) {
    ++st->calls;
    throw std::runtime_error("handler bug");
    co_return Response::text("unreachable");
}

// Waits for the server to stop (its token), then answers 503.
Task<Response> wait_for_stop(Stats* st, Request, std::stop_token stop) {
    ++st->calls;
    auto s = co_await sleep(30s, stop);
    st->saw_stop = !s;
    co_return Response::text("stopping", 503);
}

// /events?n=N (0: endless) &ms=interval &big=chunk size &respond=status
Task<void> events(Stats* st, Request r, ResponseStream out, std::stop_token stop) {
    auto q = [&r](const char* k, int dflt) { return r.query.count(k) ? std::atoi(r.query[k].c_str()) : dflt; };
    const int n = q("n", 0), ms = q("ms", 10), big = q("big", 0), respond = q("respond", 0);
    if (respond != 0) {
        Response answer = Response::json({{"error", "no such thing"}}, respond);
        auto w = co_await out.respond(std::move(answer));
        (void)w;
        ++st->streams_ended;
        co_return;
    }
    http::Headers headers{{"Content-Type", "application/x-ndjson"}};
    auto h = co_await out.start(200, std::move(headers));
    if (!h) st->send_failed = true;
    for (int i = 0; h && (n == 0 || i < n); ++i) {
        std::string data = big > 0 ? std::string(static_cast<std::size_t>(big), 'x') : "event " + std::to_string(i) + "\n";
        auto w = co_await out.send_chunk(std::move(data));
        if (!w) {
            st->send_failed = true;
            break;
        }
        if (ms > 0) {
            auto s = co_await sleep(std::chrono::milliseconds(ms), stop);
            if (!s) {
                st->stream_stopped = true;
                break;
            }
        }
    }
    if (stop.stop_requested()) st->stream_stopped = true;
    ++st->streams_ended;
}

Task<void> stop_after(Task<void> client, TestServer* ts) {
    co_await std::move(client);
    ts->stop.request_stop();
}

Task<void> run_server(TestServer* ts, std::stop_token stop) {
    co_await ts->server.run(std::move(stop));
    ts->ended = Clock::now();
}

struct ReadSome {
    Stream* s;
    Stream::ReadAwaiter operator()(std::stop_token t) const { return s->read(std::move(t)); }
};

// One read into c->buf within `left`; false on EOF, error or timeout.
Task<bool> read_more(Conn* c, std::chrono::milliseconds left) {
    if (left <= 0ms) co_return false;
    ReadSome reader{&c->s};
    std::stop_token none;
    auto r = co_await with_timeout(left, none, reader);
    if (!r) {
        if (!r.error().is(Errc::timeout)) c->eof = true;
        co_return false;
    }
    c->buf.append(*r);
    co_return true;
}

std::chrono::milliseconds left_until(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now());
}

// Parses one response from the front of `buf`; nothing if incomplete.
std::optional<RawResponse> parse_front(std::string& buf, bool head) {
    std::size_t end = buf.find("\r\n\r\n");
    if (end == std::string::npos) return std::nullopt;
    RawResponse r;
    r.head = buf.substr(0, end + 2);
    if (r.head.size() < 12 || r.head.compare(0, 9, "HTTP/1.1 ") != 0) throw std::runtime_error("bad status line: " + r.head);
    r.status = std::atoi(r.head.c_str() + 9);
    std::size_t pos = end + 4;
    auto te = r.header("Transfer-Encoding");
    if (head || r.status < 200 || r.status == 204 || r.status == 304) {
    } else if (te && *te == "chunked") {
        for (;;) {
            std::size_t eol = buf.find("\r\n", pos);
            if (eol == std::string::npos) return std::nullopt;
            std::size_t size = std::strtoul(buf.c_str() + pos, nullptr, 16);
            if (buf.size() < eol + 2 + size + 2) return std::nullopt;
            r.body += buf.substr(eol + 2, size);
            pos = eol + 2 + size + 2;
            if (size == 0) break;
        }
    } else {
        auto cl = r.header("Content-Length");
        std::size_t len = cl ? std::strtoul(cl->c_str(), nullptr, 10) : 0;
        if (buf.size() < pos + len) return std::nullopt;
        r.body = buf.substr(pos, len);
        pos += len;
    }
    buf.erase(0, pos);
    return r;
}

}  // namespace

http::Router test_router(Stats* st) {
    http::Router r;
    r.add("GET", "/hello", hello);
    r.add("POST", "/echo", echo);
    r.add("GET", "/params/{a}/x/{b}", params);
    r.add("GET", "/query", query);
    r.add("GET", "/whoami", whoami);
    r.add("GET", "/slow", slow);
    r.add("GET", "/count", [st](Request q, std::stop_token s) { return count(st, std::move(q), std::move(s)); });
    r.add("GET", "/throw", [st](Request q, std::stop_token s) { return thrower(st, std::move(q), std::move(s)); });
    r.add("GET", "/wait", [st](Request q, std::stop_token s) { return wait_for_stop(st, std::move(q), std::move(s)); });
    r.add_stream("GET", "/events", [st](Request q, ResponseStream out, std::stop_token s) {
        return events(st, std::move(q), out, std::move(s));
    });
    return r;
}

Task<void> serve_while(TestServer* ts, Task<void> client) {
    TaskScope scope(ts->stop.get_token());
    scope.spawn(run_server(ts, scope.token()));
    scope.spawn(stop_after(std::move(client), ts));
    co_await scope.join();
}

std::optional<std::string> RawResponse::header(const std::string& name) const {
    std::size_t pos = head.find("\r\n");
    while (pos != std::string::npos && pos + 2 < head.size()) {
        std::size_t eol = head.find("\r\n", pos + 2);
        std::string line = head.substr(pos + 2, eol - pos - 2);
        std::size_t colon = line.find(':');
        if (colon != std::string::npos && http::iequals(line.substr(0, colon), name)) {
            std::size_t v = line.find_first_not_of(' ', colon + 1);
            return v == std::string::npos ? std::string() : line.substr(v);
        }
        pos = eol;
    }
    return std::nullopt;
}

Task<Conn> connect(TestServer* ts) {
    auto s = co_await unix_connect(ts->path());
    REQUIRE_MESSAGE(s.has_value(), s.error().message());
    Conn c;
    c.s = std::move(*s);
    co_return c;
}

Task<void> send(Conn* c, std::string bytes) {
    auto w = co_await c->s.write(std::move(bytes));
    REQUIRE_MESSAGE(w.has_value(), w.error().message());
}

Task<std::optional<RawResponse>> next_response(Conn* c, bool head, std::chrono::milliseconds timeout) {
    auto until = Clock::now() + timeout;
    for (;;) {
        if (auto r = parse_front(c->buf, head)) co_return r;
        bool more = co_await read_more(c, left_until(until));
        if (!more) co_return std::nullopt;
    }
}

Task<bool> read_to_eof(Conn* c, std::chrono::milliseconds timeout) {
    auto until = Clock::now() + timeout;
    while (!c->eof) {
        bool more = co_await read_more(c, left_until(until));
        if (!more && !c->eof) co_return false;
    }
    co_return true;
}

Task<bool> read_at_least(Conn* c, std::size_t n, std::chrono::milliseconds timeout) {
    auto until = Clock::now() + timeout;
    while (c->buf.size() < n) {
        bool more = co_await read_more(c, left_until(until));
        if (!more) co_return false;
    }
    co_return true;
}

Task<void> expect_refusal(TestServer* ts, std::string bytes, int status) {
    Conn c = co_await connect(ts);
    co_await send(&c, std::move(bytes));
    auto r = co_await next_response(&c);
    REQUIRE(r.has_value());
    CHECK(r->status == status);
    CHECK(r->header("Connection") == "close");
    CHECK(r->header("Content-Type") == "application/json");
    CHECK(nlohmann::json::parse(r->body).contains("error"));
    bool eof = co_await read_to_eof(&c);
    CHECK(eof);
    CHECK(ts->stats.calls == 0);
}

}  // namespace reins::test
