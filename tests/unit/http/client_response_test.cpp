// The probe client against the fixture server in every probe mode: status
// codes, garbage, silence, dripping, early close, huge bodies, HEAD and 204,
// and the stop POSTs.
#include <doctest/doctest.h>

#include <sys/stat.h>
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
}
