// LineReader: stopped, timed out, owner-destroyed and frame-dropped reads
// lose no buffered byte.
#include <memory>
#include <stop_token>
#include <string>
#include <utility>

#include "harness.hpp"
#include "reins/async/line_reader.hpp"
#include "stream_harness.hpp"

using namespace reins;
using namespace reins::test;
using Line = LineReader::Line;

TEST_SUITE("line_reader") {
    TEST_CASE("a stop returns cancelled and keeps the buffered bytes for the next call") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            LineReader reader(b);
            auto w = co_await a.write("a\npartial");
            CHECK(w.has_value());
            auto first = co_await reader.next();
            REQUIRE(first.has_value());
            CHECK(first->text == "a");
            // Pending with a partial line buffered, then stopped.
            std::stop_source src;
            Result<Line> got = fail(Errc::timeout);
            auto waiter = [](LineReader* r, std::stop_token st, Result<Line>* out) -> Task<void> {
                *out = co_await r->next(std::move(st));
            };
            TaskScope scope = TaskScope::shielded();
            scope.spawn(waiter(&reader, src.get_token(), &got));
            co_await sleep(10ms);
            CHECK(reader.buffered() == 7);
            src.request_stop();
            co_await scope.join();
            REQUIRE_FALSE(got.has_value());
            CHECK(got.error().is(Errc::cancelled));
            CHECK(reader.buffered() == 7);
            // Nothing lost, and the reader goes on.
            auto w2 = co_await a.write(" line\nb\nc\n");
            CHECK(w2.has_value());
            auto l = co_await reader.next();
            REQUIRE(l.has_value());
            CHECK(l->text == "partial line");
            auto l2 = co_await reader.next();
            REQUIRE(l2.has_value());
            CHECK(l2->text == "b");
            // An already stopped token: cancelled even with a line buffered, which stays.
            std::stop_source pre;
            pre.request_stop();
            auto c = co_await reader.next(pre.get_token());
            CHECK(c.error().is(Errc::cancelled));
            auto l3 = co_await reader.next();
            REQUIRE(l3.has_value());
            CHECK(l3->text == "c");
        });
    }

    TEST_CASE("next() raced against a deadline times out and loses nothing") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            LineReader reader(b);
            auto w = co_await a.write("no newline yet");
            CHECK(w.has_value());
            auto next = [&reader](std::stop_token s) { return reader.next(std::move(s)); };
            auto r = co_await with_timeout(20ms, std::stop_token{}, next);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().is(Errc::timeout));
            auto w2 = co_await a.write("\n");
            CHECK(w2.has_value());
            auto r2 = co_await with_timeout(2s, std::stop_token{}, next);
            REQUIRE(r2.has_value());
            CHECK(r2->text == "no newline yet");
        });
    }

    TEST_CASE("destroying the reader while next() is pending cancels it; the stream stays usable") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            auto reader = std::make_unique<LineReader>(b);
            Result<Line> got = fail(Errc::timeout);
            auto waiter = [](LineReader* r, Result<Line>* out) -> Task<void> { *out = co_await r->next(); };
            TaskScope scope = TaskScope::shielded();
            scope.spawn(waiter(reader.get(), &got));
            co_await sleep(5ms);
            reader.reset();  // owner dropped
            co_await scope.join();
            REQUIRE_FALSE(got.has_value());
            CHECK(got.error().is(Errc::cancelled));
            auto w = co_await a.write("x\n");
            CHECK(w.has_value());
            LineReader again(b);
            auto l = co_await again.next();
            REQUIRE(l.has_value());
            CHECK(l->text == "x");
        });
    }

    TEST_CASE("destroying the Stream while next() is pending cancels it") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            LineReader reader(b);
            Result<Line> got = fail(Errc::timeout);
            auto waiter = [](LineReader* r, Result<Line>* out) -> Task<void> { *out = co_await r->next(); };
            TaskScope scope = TaskScope::shielded();
            scope.spawn(waiter(&reader, &got));
            co_await sleep(5ms);
            b.close();
            co_await scope.join();
            REQUIRE_FALSE(got.has_value());
            CHECK(got.error().is(Errc::cancelled));
        });
    }

    TEST_CASE("a frame dropped while next() is pending leaves the reader usable") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            LineReader reader(b);
            auto w = co_await a.write("par");
            CHECK(w.has_value());
            {
                auto waiter = [](LineReader* r) -> Task<void> { (void)co_await r->next(); };
                auto t = waiter(&reader);
                Loop::current().schedule(t.handle());
                co_await sleep(10ms);
                CHECK_FALSE(t.done());
                CHECK(reader.buffered() == 3);
            }
            auto w2 = co_await a.write("tial\n");
            CHECK(w2.has_value());
            auto l = co_await reader.next();
            REQUIRE(l.has_value());
            CHECK(l->text == "partial");
        });
    }
}
