// The probe client's connection: refused, hanging, over a Unix socket, and
// the stop / frame-dropped paths of a pending request.
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "client_test_support.hpp"

using namespace reins;
using namespace reins::test;
using namespace reins::http;
using Clock = std::chrono::steady_clock;


TEST_SUITE("client") {
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
}
