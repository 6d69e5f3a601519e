// Stream over a socketpair(AF_UNIX, SOCK_STREAM): data, end of stream, and
// the stop / owner-destroyed / frame-dropped paths of read and write.
#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "harness.hpp"
#include "reins/async/stream.hpp"
#include "stream_harness.hpp"

using namespace reins;
using namespace reins::test;
using Clock = std::chrono::steady_clock;

TEST_SUITE("stream") {
    TEST_CASE("bytes make the round trip both ways") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            auto w = co_await a.write("hello");
            CHECK(w.has_value());
            auto got = co_await read_n(&b, 5);
            CHECK(got == "hello");
            auto w2 = co_await b.write("world!");
            CHECK(w2.has_value());
            auto back = co_await read_n(&a, 6);
            CHECK(back == "world!");
        });
    }

    TEST_CASE("8 MiB written while the peer reads arrive intact") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            std::string data(8 << 20, '\0');
            for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
            auto writer = [](Stream* s, std::string d) -> Task<void> {
                auto r = co_await s->write(std::move(d));
                CHECK(r.has_value());
            };
            std::string got;
            auto reader = [](Stream* s, std::size_t n, std::string* out) -> Task<void> { *out = co_await read_n(s, n); };
            TaskScope scope = TaskScope::shielded();
            scope.spawn(writer(&a, data));
            scope.spawn(reader(&b, data.size(), &got));
            co_await scope.join();
            CHECK(got.size() == data.size());
            CHECK(got == data);
        });
    }

    TEST_CASE("end_of_stream after the peer closes, and again on every later read") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            auto w = co_await a.write("bye");
            CHECK(w.has_value());
            a.close();
            CHECK_FALSE(a);
            auto got = co_await read_n(&b, 3);
            CHECK(got == "bye");
            auto r1 = co_await b.read();
            REQUIRE_FALSE(r1.has_value());
            CHECK(r1.error().is(Errc::end_of_stream));
            auto r2 = co_await b.read();
            REQUIRE_FALSE(r2.has_value());
            CHECK(r2.error().is(Errc::end_of_stream));
        });
    }

    TEST_CASE("a read stopped by its token completes with cancelled and loses nothing") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            std::stop_source src;
            Result<std::string_view> got = fail(Errc::timeout);
            auto reader = [](Stream* s, std::stop_token st, Result<std::string_view>* out) -> Task<void> {
                *out = co_await s->read(std::move(st));
            };
            TaskScope scope = TaskScope::shielded();
            auto t0 = Clock::now();
            scope.spawn(reader(&b, src.get_token(), &got));
            co_await sleep(10ms);
            src.request_stop();
            co_await scope.join();
            REQUIRE_FALSE(got.has_value());
            CHECK(got.error().is(Errc::cancelled));
            CHECK(Clock::now() - t0 < 2s);
            // The stream is still usable, and nothing written later is lost.
            auto w = co_await a.write("late");
            CHECK(w.has_value());
            auto rest = co_await read_n(&b, 4);
            CHECK(rest == "late");
        });
    }

    TEST_CASE("a read with an already stopped token does not touch the stream") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            auto w = co_await a.write("kept");
            CHECK(w.has_value());
            std::stop_source src;
            src.request_stop();
            auto r = co_await b.read(src.get_token());
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().is(Errc::cancelled));
            auto got = co_await read_n(&b, 4);
            CHECK(got == "kept");
        });
    }

    TEST_CASE("destroying the Stream while a read is pending cancels the read") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            auto owned = std::make_unique<Stream>(std::move(b));
            Result<std::string_view> got = fail(Errc::timeout);
            auto reader = [](Stream* s, Result<std::string_view>* out) -> Task<void> { *out = co_await s->read(); };
            TaskScope scope = TaskScope::shielded();
            scope.spawn(reader(owned.get(), &got));
            co_await sleep(5ms);
            owned.reset();  // owner dropped
            co_await scope.join();
            REQUIRE_FALSE(got.has_value());
            CHECK(got.error().is(Errc::cancelled));
        });
    }

    TEST_CASE("a frame dropped while its read is pending leaves the stream usable") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            {
                auto reader = [](Stream* s) -> Task<void> { (void)co_await s->read(); };
                auto t = reader(&b);
                Loop::current().schedule(t.handle());
                co_await sleep(5ms);
                CHECK_FALSE(t.done());
            }  // frame destroyed while the read was pending
            auto w = co_await a.write("after");
            CHECK(w.has_value());
            auto got = co_await read_n(&b, 5);
            CHECK(got == "after");
        });
    }

    TEST_CASE("a large write to a peer that never reads is stopped by its token") {
        // 8 MiB cannot fit in the socket buffers: the write stays queued in
        // libuv until the stream is closed, which frees the request.
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            std::stop_source src;
            Result<void> got = fail(Errc::timeout);
            bool finished = false;
            auto writer = [](Stream* s, std::stop_token st, Result<void>* out, bool* done) -> Task<void> {
                *out = co_await s->write(std::string(8 << 20, 'w'), std::move(st));
                *done = true;
            };
            TaskScope scope = TaskScope::shielded();
            scope.spawn(writer(&a, src.get_token(), &got, &finished));
            co_await sleep(20ms);
            CHECK_FALSE(finished);  // blocked: nobody reads
            auto t0 = Clock::now();
            src.request_stop();
            co_await scope.join();
            REQUIRE_FALSE(got.has_value());
            CHECK(got.error().is(Errc::cancelled));
            CHECK(Clock::now() - t0 < 2s);
            a.close();  // the queued request completes with UV_ECANCELED and is freed
        });
    }

    TEST_CASE("a frame dropped while its write is pending frees nothing early") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            {
                auto writer = [](Stream* s) -> Task<void> { (void)co_await s->write(std::string(8 << 20, 'd')); };
                auto t = writer(&a);
                Loop::current().schedule(t.handle());
                co_await sleep(5ms);
                CHECK_FALSE(t.done());
            }  // the request still owns its 8 MiB; libuv keeps writing them
            // Drain what was written so far, then close: the rest is cancelled.
            auto got = co_await read_n(&b, 1 << 20);
            CHECK(got.size() >= (1u << 20));
            CHECK(got.find_first_not_of('d') == std::string::npos);
        });
    }

    TEST_CASE("destroying the Stream while a write is pending fails the write") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            auto owned = std::make_unique<Stream>(std::move(a));
            Result<void> got;
            auto writer = [](Stream* s, Result<void>* out) -> Task<void> {
                *out = co_await s->write(std::string(8 << 20, 'x'));
            };
            TaskScope scope = TaskScope::shielded();
            scope.spawn(writer(owned.get(), &got));
            co_await sleep(5ms);
            owned.reset();
            co_await scope.join();
            REQUIRE_FALSE(got.has_value());
            CHECK(got.error().is(Errc::cancelled));  // as a pending read would
        });
    }

    TEST_CASE("a write to a closed stream is an error") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            a.close();
            auto r = co_await a.write("x");
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().code == uv_error(UV_EPIPE).code);
            auto rd = co_await a.read();
            REQUIRE_FALSE(rd.has_value());
            CHECK(rd.error().is(Errc::end_of_stream));
            Stream empty;
            auto r2 = co_await empty.write("x");
            CHECK_FALSE(r2.has_value());
        });
    }

    TEST_CASE("a write to a stream whose peer has gone is an error value, not SIGPIPE") {
        IgnoreSigpipe guard;  // the executable's job (docs/runtime.md); here the test's
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            b.close();
            Result<void> r;
            for (int i = 0; i < 100 && r.has_value(); ++i) {
                r = co_await a.write("into the void");
                if (r) co_await sleep(1ms);
            }
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().code == uv_error(UV_EPIPE).code);
            CHECK(r.error().message().find("write") != std::string::npos);
        });
    }

    TEST_CASE("open_fd of a bad descriptor fails") {
        Loop loop;
        auto r = Stream::open_fd(-1);
        CHECK_FALSE(r.has_value());
        REQUIRE(loop.close());
    }
}
