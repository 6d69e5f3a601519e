// The probe client against the fixture server in every probe mode, and
// against scripted responders for exact byte sequences; stop and drop paths.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "client_test_support.hpp"

using namespace reins;
using namespace reins::test;
using namespace reins::http;
using Clock = std::chrono::steady_clock;

namespace {

RequestOptions with_timeout_ms(int ms) {
    RequestOptions o;
    o.timeout = std::chrono::milliseconds(ms);
    return o;
}

bool has(const Error& e, std::string_view text) { return e.message().find(text) != std::string::npos; }

// One request against a scripted responder on a fresh TCP listener.
Task<Result<ClientResponse>> scripted(Script script, std::string method, std::string path, RequestOptions o) {
    auto l = TcpListener::listen(loopback());
    REQUIRE(l.has_value());
    TaskScope scope = TaskScope::shielded();
    scope.spawn(respond(&*l, std::move(script), scope.token()));
    auto r = co_await request(Target::tcp(l->local()), std::move(method), std::move(path), std::move(o));
    scope.request_stop();  // a responder still holding on lets go
    co_await scope.join();
    co_return r;
}

}  // namespace

TEST_SUITE("client") {
    TEST_CASE("200, 503 and 302 are results; redirects are not followed") {
        run_test([](std::stop_token) -> Task<void> {
            Fixture ok;
            std::vector<std::string> ok_args{};
            bool ok_up = co_await start_fixture(&ok, std::move(ok_args));
            REQUIRE(ok_up);
            auto r = co_await request(ok.target(), "GET", "/health");
            REQUIRE_MESSAGE(r.has_value(), r.error().message());
            CHECK(r->status == 200);
            CHECK(r->body.size() == std::stoul(std::string(*find_header(r->headers, "content-length"))));
            std::vector<int> statuses{503, 302};  // no braced lists in coroutines (g++ 12)
            for (int status : statuses) {
                Fixture f;
                std::vector<std::string> f_args{"--status", std::to_string(status)};
                bool f_up = co_await start_fixture(&f, std::move(f_args));
            REQUIRE(f_up);
                auto s = co_await request(f.target(), "GET", "/ready");
                REQUIRE_MESSAGE(s.has_value(), s.error().message());
                CHECK(s->status == status);
            }
        });
    }

    TEST_CASE("garbage is a malformed response quoting llhttp") {
        run_test([](std::stop_token) -> Task<void> {
            Fixture f;
            std::vector<std::string> f_args{"--probe-mode", "garbage"};
            bool f_up = co_await start_fixture(&f, std::move(f_args));
            REQUIRE(f_up);
            auto r = co_await request(f.target(), "GET", "/ready");
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().code == ClientErrc::malformed_response);
            CHECK_MESSAGE(has(r.error(), "GET http://127.0.0.1:"), r.error().message());
            CHECK_MESSAGE(has(r.error(), "/ready: malformed response (HPE_"), r.error().message());
        });
    }

    TEST_CASE("a server that accepts and never answers times out at the deadline") {
        run_test([](std::stop_token) -> Task<void> {
            std::vector<std::vector<std::string>> modes{{"--probe-mode", "silent"}, {"--probe-delay", "5s"}};
            for (const auto& args : modes) {
                Fixture f;
                bool f_up = co_await start_fixture(&f, args);
            REQUIRE(f_up);
                auto t0 = Clock::now();
                auto r = co_await request(f.target(), "GET", "/ready", with_timeout_ms(300));
                auto took = Clock::now() - t0;
                REQUIRE_FALSE(r.has_value());
                CHECK(r.error().is(Errc::timeout));
                CHECK_MESSAGE(has(r.error(), "/ready: no status line within 300ms"), r.error().message());
                CHECK(took >= 290ms);
                CHECK(took < 3s);
            }
        });
    }

    TEST_CASE("a server dripping one byte at a time times out at the deadline") {
        run_test([](std::stop_token) -> Task<void> {
            Fixture f;
            std::vector<std::string> f_args{"--probe-mode", "drip", "--drip-interval", "50ms"};
            bool f_up = co_await start_fixture(&f, std::move(f_args));
            REQUIRE(f_up);
            auto t0 = Clock::now();
            auto r = co_await request(f.target(), "GET", "/ready", with_timeout_ms(1000));
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().is(Errc::timeout));
            CHECK_MESSAGE(has(r.error(), "no complete status line and headers within 1s ("), r.error().message());
            CHECK(Clock::now() - t0 < 3s);
        });
    }

    TEST_CASE("a server closing before answering: closed early") {
        run_test([](std::stop_token) -> Task<void> {
            Fixture f;
            std::vector<std::string> f_args{"--probe-mode", "close"};
            bool f_up = co_await start_fixture(&f, std::move(f_args));
            REQUIRE(f_up);
            auto r = co_await request(f.target(), "GET", "/live");
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().code == ClientErrc::closed_early);
            CHECK_MESSAGE(has(r.error(), "/live: connection closed before the status line"), r.error().message());
        });
    }

    TEST_CASE("a huge body is too large, or accepted under a larger cap, or skipped by a probe") {
        run_test([](std::stop_token) -> Task<void> {
            Fixture f;
            std::vector<std::string> f_args{"--probe-mode", "huge", "--huge-size", "1M"};
            bool f_up = co_await start_fixture(&f, std::move(f_args));
            REQUIRE(f_up);
            auto r = co_await request(f.target(), "GET", "/health");
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().code == ClientErrc::body_too_large);
            CHECK_MESSAGE(has(r.error(), "body of 1048576 bytes is over the limit of 65536"), r.error().message());
            RequestOptions big = with_timeout_ms(5000);
            big.max_body = 2 << 20;
            auto a = co_await request(f.target(), "GET", "/health", big);
            REQUIRE_MESSAGE(a.has_value(), a.error().message());
            CHECK(a->body.size() == 1u << 20);
            RequestOptions probe;
            probe.read_body = false;
            auto p = co_await request(f.target(), "GET", "/health", probe);
            REQUIRE_MESSAGE(p.has_value(), p.error().message());
            CHECK(p->status == 200);
            CHECK(p->body.empty());
        });
    }

    TEST_CASE("HEAD and 204 carry no body") {
        run_test([](std::stop_token) -> Task<void> {
            Fixture f;
            std::vector<std::string> f_args{};
            bool f_up = co_await start_fixture(&f, std::move(f_args));
            REQUIRE(f_up);
            auto h = co_await request(f.target(), "HEAD", "/health");
            REQUIRE_MESSAGE(h.has_value(), h.error().message());
            CHECK(h->status == 200);
            CHECK(h->body.empty());
            Fixture nc;
            std::vector<std::string> nc_args{"--status", "204"};
            bool nc_up = co_await start_fixture(&nc, std::move(nc_args));
            REQUIRE(nc_up);
            auto n = co_await request(nc.target(), "GET", "/ready");
            REQUIRE_MESSAGE(n.has_value(), n.error().message());
            CHECK(n->status == 204);
        });
    }

    TEST_CASE("stop.pre and stop.http POSTs: checkpoint, shutdown, acknowledge-only") {
        run_test([](std::stop_token) -> Task<void> {
            char dir[] = "/tmp/reins-client-test-XXXXXX";
            REQUIRE(::mkdtemp(dir) != nullptr);
            std::string marker = std::string(dir) + "/cp";
            Fixture f;
            std::vector<std::string> f_args{"--checkpoint-file", marker};
            bool f_up = co_await start_fixture(&f, std::move(f_args));
            REQUIRE(f_up);
            auto cp = co_await request(f.target(), "POST", "/admin/checkpoint");
            REQUIRE_MESSAGE(cp.has_value(), cp.error().message());
            CHECK(cp->status == 200);
            struct stat st {};
            CHECK(::stat(marker.c_str(), &st) == 0);
            ::unlink(marker.c_str());
            ::rmdir(dir);
            auto down = co_await request(f.target(), "POST", "/admin/shutdown");
            REQUIRE_MESSAGE(down.has_value(), down.error().message());
            CHECK(down->status == 200);
            auto wait = [&f](std::stop_token s) { return f.proc.wait(std::move(s)); };
            auto ended = co_await with_timeout(5s, {}, wait);
            REQUIRE_MESSAGE(ended.has_value(), ended.error().message());
            CHECK(ended->success());

            Fixture ack;
            std::vector<std::string> ack_args{"--shutdown-ack-only"};
            bool ack_up = co_await start_fixture(&ack, std::move(ack_args));
            REQUIRE(ack_up);
            auto a = co_await request(ack.target(), "POST", "/admin/shutdown");
            REQUIRE_MESSAGE(a.has_value(), a.error().message());
            CHECK(a->status == 200);
            auto wait_ack = [&ack](std::stop_token s) { return ack.proc.wait(std::move(s)); };
            auto still = co_await with_timeout(300ms, {}, wait_ack);
            CHECK(still.error().is(Errc::timeout));  // it acknowledged and kept running
        });
    }

    TEST_CASE("a refused connection names the request and the errno") {
        run_test([](std::stop_token) -> Task<void> {
            int port = closed_port();
            auto r = co_await request(Target::tcp(loopback(port)), "GET", "/ready");
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().code == std::error_code(UV_ECONNREFUSED, libuv_category()));
            CHECK(r.error().message() == "GET http://127.0.0.1:" + std::to_string(port) +
                                             "/ready: connect: connection refused (ECONNREFUSED)");
        });
    }

    TEST_CASE("a connect that hangs times out as 'not connected'") {
        run_test([](std::stop_token) -> Task<void> {
            BlackHole hole;
            std::vector<Stream> keep;
            bool full = co_await fill_backlog(hole.ep, &keep);
            REQUIRE(full);
            auto r = co_await request(Target::tcp(hole.ep), "GET", "/ready", with_timeout_ms(200));
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().is(Errc::timeout));
            CHECK_MESSAGE(has(r.error(), "/ready: not connected within 200ms"), r.error().message());
        });
    }

    TEST_CASE("the request on the wire: Host, Connection: close, headers, body") {
        run_test([](std::stop_token) -> Task<void> {
            std::string seen;
            Script s{{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}};
            s.request = &seen;
            auto r = co_await scripted(s, "GET", "/ready?x=1", {});
            REQUIRE_MESSAGE(r.has_value(), r.error().message());
            CHECK(seen.rfind("GET /ready?x=1 HTTP/1.1\r\nHost: 127.0.0.1:", 0) == 0);
            CHECK(seen.find("\r\nConnection: close\r\n\r\n") != std::string::npos);
            RequestOptions o;
            o.headers = {{"Host", "api.local"}, {"X-Token", "t"}, {"Connection", "keep-alive"}};
            o.body = "{\"a\":1}";
            auto p = co_await scripted(s, "POST", "/admin/checkpoint", o);
            REQUIRE_MESSAGE(p.has_value(), p.error().message());
            CHECK(seen == "POST /admin/checkpoint HTTP/1.1\r\nConnection: close\r\nContent-Length: 7\r\n"
                          "Host: api.local\r\nX-Token: t\r\n\r\n{\"a\":1}");
            auto bad = co_await request(Target::tcp(loopback(closed_port())), "GET", "/a b");
            CHECK(bad.error().code == ClientErrc::invalid_request);  // refused before connecting
            RequestOptions inject;
            inject.headers = {{"X", "a\r\nEvil: 1"}};
            auto evil = co_await request(Target::tcp(loopback(1)), "GET", "/", inject);
            CHECK(evil.error().code == ClientErrc::invalid_request);
        });
    }

    TEST_CASE("split status line, chunked body in pieces, EOF-delimited body, 1xx first") {
        run_test([](std::stop_token) -> Task<void> {
            Script split{{"HT", "TP/1.", "1 2", "00 O", "K\r\nX: y\r", "\n\r", "\n"}};
            auto a = co_await scripted(split, "GET", "/", with_timeout_ms(5000));
            REQUIRE_MESSAGE(a.has_value(), a.error().message());  // the EOF ends its (empty) body
            CHECK(a->status == 200);
            CHECK(*find_header(a->headers, "x") == "y");
            Script chunked{{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab", "cd\r\n3\r\nefg\r\n",
                            "0\r\n\r\n"}};
            chunked.hold = true;  // the end of the chunks ends it, not the connection
            auto c = co_await scripted(chunked, "GET", "/", {});
            REQUIRE_MESSAGE(c.has_value(), c.error().message());
            CHECK(c->body == "abcdefg");
            Script eof{{"HTTP/1.0 200 OK\r\n\r\nuntil ", "the end"}};
            auto e = co_await scripted(eof, "GET", "/", {});
            REQUIRE_MESSAGE(e.has_value(), e.error().message());
            CHECK(e->body == "until the end");
            Script interim{{"HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok"}};
            interim.hold = true;
            auto i = co_await scripted(interim, "POST", "/admin/shutdown", {});
            REQUIRE_MESSAGE(i.has_value(), i.error().message());
            CHECK(i->status == 202);
            CHECK(i->body == "ok");
        });
    }

    TEST_CASE("a body cut short, and a reset, are closed early") {
        run_test([](std::stop_token) -> Task<void> {
            Script short_body{{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"}};
            auto cut = co_await scripted(short_body, "GET", "/", {});
            REQUIRE_FALSE(cut.has_value());
            CHECK(cut.error().code == ClientErrc::closed_early);
            CHECK_MESSAGE(has(cut.error(), "connection closed in the body (3 of 10 bytes)"), cut.error().message());
            Script rst{{"HTTP/1.1 200 OK\r\nContent-"}};
            rst.reset = true;
            auto reset = co_await scripted(rst, "GET", "/", {});
            REQUIRE_FALSE(reset.has_value());
            CHECK(reset.error().code == ClientErrc::closed_early);
            CHECK_MESSAGE(has(reset.error(), "connection reset in the response head (after 25 bytes)"),
                          reset.error().message());
            // Reset while the client still sends a large body: the write or the read fails, either way early.
            Script rude;
            rude.read_request = false;
            rude.reset = true;
            RequestOptions big;
            big.body.assign(8 << 20, 'b');
            auto unsent = co_await scripted(rude, "POST", "/upload", big);
            REQUIRE_FALSE(unsent.has_value());
            CHECK_MESSAGE(unsent.error().code == ClientErrc::closed_early, unsent.error().message());
        });
    }

    TEST_CASE("over a Unix socket") {
        run_test([](std::stop_token) -> Task<void> {
            char dir[] = "/tmp/reins-client-test-XXXXXX";
            REQUIRE(::mkdtemp(dir) != nullptr);
            std::string path = std::string(dir) + "/api.sock";
            {
                auto l = UnixListener::listen(path);
                REQUIRE_MESSAGE(l.has_value(), l.error().message());
                std::string seen;
                Script s{{"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n{}\r\n"}};
                s.request = &seen;
                TaskScope scope = TaskScope::shielded();
                scope.spawn(respond(&*l, s, scope.token()));
                auto r = co_await request(Target::unix_socket(path), "GET", "/v1/status");
                co_await scope.join();
                REQUIRE_MESSAGE(r.has_value(), r.error().message());
                CHECK(r->body == "{}\r\n");
                CHECK(seen.find("Host: localhost\r\n") != std::string::npos);
            }
            auto gone = co_await request(Target::unix_socket(path), "GET", "/v1/status");
            REQUIRE_FALSE(gone.has_value());
            CHECK(gone.error().message() == "GET /v1/status on unix:" + path +
                                                ": connect: no such file or directory (ENOENT)");
            ::rmdir(dir);
        });
    }

    TEST_CASE("stopped by its token: cancelled, promptly, and before connecting if already stopped") {
        run_test([](std::stop_token) -> Task<void> {
            Fixture f;
            std::vector<std::string> f_args{"--probe-mode", "silent"};
            bool f_up = co_await start_fixture(&f, std::move(f_args));
            REQUIRE(f_up);
            std::stop_source src;
            TaskScope scope = TaskScope::shielded();
            Result<ClientResponse> got = fail(Errc::config);
            auto prober = [](Target t, std::stop_token s, Result<ClientResponse>* out) -> Task<void> {
                *out = co_await request(std::move(t), "GET", "/ready", with_timeout_ms(10000), std::move(s));
            };
            scope.spawn(prober(f.target(), src.get_token(), &got));
            co_await sleep(50ms);
            auto t0 = Clock::now();
            src.request_stop();
            co_await scope.join();
            CHECK(Clock::now() - t0 < 1s);
            REQUIRE_FALSE(got.has_value());
            CHECK(got.error().is(Errc::cancelled));
            auto again = co_await request(f.target(), "GET", "/ready", {}, src.get_token());
            CHECK(again.error().is(Errc::cancelled));
        });
    }

    TEST_CASE("a frame dropped while its request is pending releases everything") {
        run_test([](std::stop_token) -> Task<void> {
            Fixture f;
            std::vector<std::string> f_args{"--probe-mode", "drip", "--drip-interval", "20ms"};
            bool f_up = co_await start_fixture(&f, std::move(f_args));
            REQUIRE(f_up);
            {
                auto prober = [](Target t) -> Task<void> { (void)co_await request(std::move(t), "GET", "/ready"); };
                auto t = prober(f.target());
                Loop::current().schedule(t.handle());
                co_await sleep(100ms);
                CHECK_FALSE(t.done());
            }  // socket, deadline timer and write request are closed or freed by their callbacks
            co_await sleep(1ms);
        });
    }

    TEST_CASE("parse_url: full URLs, bare paths, and what is refused") {
        auto a = parse_url("http://127.0.0.1:8080/ready");
        REQUIRE(a.has_value());
        CHECK(a->target.to_string() == "127.0.0.1:8080");
        CHECK(a->path == "/ready");
        auto b = parse_url("/health?deep=1#frag", "::1", 9000);
        REQUIRE(b.has_value());
        CHECK(b->target.to_string() == "[::1]:9000");
        CHECK(b->path == "/health?deep=1");
        auto c = parse_url("HTTP://[::1]?x");
        REQUIRE(c.has_value());
        CHECK(c->target.to_string() == "[::1]:80");
        CHECK(c->path == "/?x");
        auto d = parse_url("http://localhost:3000");
        REQUIRE(d.has_value());
        CHECK(d->target.host() == "127.0.0.1:3000");
        CHECK(d->path == "/");
        for (const char* bad : {"", "ready", "https://127.0.0.1/", "ftp://x/", "http://", "http://:80/",
                                "http://example.com/", "http://u@127.0.0.1/", "http://127.0.0.1:0/",
                                "http://127.0.0.1:99999/", "http://127.0.0.1:/", "http://::1/", "http://[::1/",
                                "http://127.0.0.1/a b", "/a\nb"}) {
            CAPTURE(bad);
            auto r = parse_url(bad);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().code == std::error_code(UV_EINVAL, libuv_category()));
            CHECK(r.error().context.find(std::string("url \"") + bad + "\"") == 0);
        }
        CHECK(parse_url("https://127.0.0.1/").error().context.find("https is not supported") != std::string::npos);
        CHECK(Target::unix_socket("/run/x.sock").to_string() == "unix:/run/x.sock");
    }
}
