// LineReader: splitting by '\n' across chunks, long lines cut into
// continuation pieces, and next_batch() against next().
#include <algorithm>
#include <cstddef>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "reins/async/line_reader.hpp"
#include "stream_harness.hpp"

using namespace reins;
using namespace reins::test;
using Line = LineReader::Line;

namespace {

// Writes `pieces` with a pause between them (so that the reader sees them
// as separate chunks), then closes the stream when asked.
Task<void> feed(Stream* s, std::vector<std::string> pieces, bool close_after) {
    for (auto& p : pieces) {
        auto r = co_await s->write(std::move(p));
        CHECK(r.has_value());
        (void)co_await sleep(2ms);
    }
    if (close_after) s->close();
}

// Every line until end_of_stream (or another error, recorded in *last).
Task<void> collect(LineReader* r, std::vector<Line>* out, Result<Line>* last) {
    for (;;) {
        auto l = co_await r->next();
        if (!l) {
            *last = std::move(l);
            co_return;
        }
        out->push_back(std::move(*l));
    }
}

// The same through next_batch(), copied out of each batch before the next call.
Task<void> collect_batches(LineReader* r, std::vector<Line>* out, Result<Line>* last, std::size_t* batches) {
    for (;;) {
        auto b = co_await r->next_batch();
        if (!b) {
            *last = fail(std::move(b).error());
            co_return;
        }
        ++*batches;
        CHECK_FALSE(b->pieces.empty());
        for (std::size_t i = 0; i < b->pieces.size(); ++i) out->push_back({std::string(b->text(i)), b->pieces[i].continuation});
    }
}

// The reference split: by '\n', then into max_line pieces.
std::vector<Line> reference(const std::string& data, std::size_t max_line) {
    std::vector<Line> out;
    std::size_t pos = 0;
    while (pos < data.size()) {
        std::size_t nl = data.find('\n', pos);
        bool terminated = nl != std::string::npos;
        std::size_t end = terminated ? nl : data.size();
        std::string line = data.substr(pos, end - pos);
        if (line.empty()) out.push_back({"", false});
        for (std::size_t i = 0; i < line.size(); i += max_line) out.push_back({line.substr(i, max_line), i > 0});
        pos = terminated ? nl + 1 : data.size();
    }
    return out;
}

bool same(const std::vector<Line>& a, const std::vector<Line>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].text != b[i].text || a[i].continuation != b[i].continuation) return false;
    return true;
}

}  // namespace

TEST_SUITE("line_reader") {
    TEST_CASE("lines split across chunks, CRLF and empty lines") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            LineReader reader(b);
            std::vector<Line> got;
            Result<Line> last = fail(Errc::timeout);
            TaskScope scope = TaskScope::shielded();
            scope.spawn(feed(&a, {"hel", "lo\nwor", "ld\n\n", "\r\n", "crlf\r\n", "x", "\n", "tail"}, true));
            scope.spawn(collect(&reader, &got, &last));
            co_await scope.join();
            std::vector<Line> want{{"hello", false}, {"world", false}, {"", false}, {"\r", false},
                                   {"crlf\r", false}, {"x", false},     {"tail", false}};
            CHECK(same(got, want));
            REQUIRE_FALSE(last.has_value());
            CHECK(last.error().is(Errc::end_of_stream));
            auto again = co_await reader.next();
            CHECK(again.error().is(Errc::end_of_stream));
            CHECK(reader.buffered() == 0);
        });
    }

    TEST_CASE("a 200 KiB line becomes 64 KiB pieces marked as continuations") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            LineReader reader(b);
            std::string big(200 * 1024, 'L');
            for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = 'M';
            std::string data = "first\n" + big + "\nnext\n";
            std::vector<Line> got;
            Result<Line> last = fail(Errc::timeout);
            TaskScope scope = TaskScope::shielded();
            scope.spawn(feed(&a, {data}, true));
            scope.spawn(collect(&reader, &got, &last));
            co_await scope.join();
            REQUIRE(got.size() == 6);
            CHECK(got[0].text == "first");
            std::size_t sizes[] = {65536, 65536, 65536, 8192};
            std::string joined;
            for (int i = 0; i < 4; ++i) {
                CHECK(got[1 + i].text.size() == sizes[i]);
                CHECK(got[1 + i].continuation == (i > 0));
                joined += got[1 + i].text;
            }
            CHECK(joined == big);
            CHECK(got[5].text == "next");
            CHECK_FALSE(got[5].continuation);
            CHECK(last.error().is(Errc::end_of_stream));
        });
    }

    TEST_CASE("a line of exactly max_line bytes is one line, even when its newline comes later") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            LineReader reader(b, 8);
            std::vector<Line> got;
            Result<Line> last = fail(Errc::timeout);
            TaskScope scope = TaskScope::shielded();
            scope.spawn(feed(&a, {"12345678", "\n", "1234567812345678", "\n", "123456789"}, true));
            scope.spawn(collect(&reader, &got, &last));
            co_await scope.join();
            std::vector<Line> want{{"12345678", false}, {"12345678", false}, {"12345678", true},
                                   {"12345678", false}, {"9", true}};
            CHECK(same(got, want));
            CHECK(last.error().is(Errc::end_of_stream));
        });
    }

    TEST_CASE("random data in random chunks matches the reference split") {
        run_test([](std::stop_token) -> Task<void> {
            std::mt19937 rng(12345);
            for (std::size_t max_line : {1u, 3u, 7u, 64u}) {
                std::string data;
                while (data.size() < 20000) {
                    auto len = std::uniform_int_distribution<int>(0, 3 * static_cast<int>(max_line) + 2)(rng);
                    for (int i = 0; i < len; ++i) data += static_cast<char>('a' + rng() % 26);
                    if (rng() % 8 == 0) data += '\r';
                    data += '\n';
                }
                if (max_line == 7) data += "unterminated tail";
                std::vector<std::string> pieces;
                for (std::size_t pos = 0; pos < data.size();) {
                    std::size_t n = 1 + rng() % 3000;
                    pieces.push_back(data.substr(pos, n));
                    pos += n;
                }
                for (bool batched : {false, true}) {
                    auto [a, b] = stream_pair();
                    LineReader reader(b, max_line);
                    std::vector<Line> got;
                    Result<Line> last = fail(Errc::timeout);
                    std::size_t batches = 0;
                    TaskScope scope = TaskScope::shielded();
                    scope.spawn(feed(&a, pieces, true));
                    if (batched) scope.spawn(collect_batches(&reader, &got, &last, &batches));
                    else scope.spawn(collect(&reader, &got, &last));
                    co_await scope.join();
                    CHECK_MESSAGE(same(got, reference(data, max_line)), "max_line ", max_line, " batched ", batched);
                    CHECK(last.error().is(Errc::end_of_stream));
                    if (batched) CHECK(batches <= pieces.size() + 1);  // at most one batch per chunk (+ the tail at EOF)
                }
            }
        }, 40s);
    }

    TEST_CASE("next_batch: every complete line buffered, as views kept until the next call") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            LineReader reader(b, 8);
            auto w = co_await a.write("a\n\nccc\n0123456789abcdefghij\npartial");
            CHECK(w.has_value());
            auto first = co_await reader.next_batch();
            REQUIRE(first.has_value());
            REQUIRE(first->pieces.size() == 6);
            std::vector<std::string> texts;
            for (std::size_t i = 0; i < first->pieces.size(); ++i) texts.emplace_back(first->text(i));
            CHECK(texts == std::vector<std::string>{"a", "", "ccc", "01234567", "89abcdef", "ghij"});
            CHECK_FALSE(first->pieces[2].continuation);
            CHECK_FALSE(first->pieces[3].continuation);
            CHECK(first->pieces[4].continuation);
            CHECK(first->pieces[5].continuation);
            CHECK(first->data == "a\n\nccc\n0123456789abcdefghij\n");
            CHECK(reader.buffered() == 7);  // "partial" stays for the next call
            // An already stopped token: cancelled, nothing lost.
            std::stop_source pre;
            pre.request_stop();
            auto c = co_await reader.next_batch(pre.get_token());
            CHECK(c.error().is(Errc::cancelled));
            auto w2 = co_await a.write(" end\n");
            CHECK(w2.has_value());
            a.close();
            auto second = co_await reader.next_batch();
            REQUIRE(second.has_value());
            REQUIRE(second->pieces.size() == 2);  // "partial end" is longer than 8 bytes
            CHECK(second->text(0) == "partial ");
            CHECK(second->text(1) == "end");
            CHECK(second->pieces[1].continuation);
            auto end = co_await reader.next_batch();
            CHECK(end.error().is(Errc::end_of_stream));
            auto line = co_await reader.next();
            CHECK(line.error().is(Errc::end_of_stream));
        });
    }

    TEST_CASE("next_batch: a chunk of empty lines comes in batches of at most max_batch lines") {
        run_test([](std::stop_token) -> Task<void> {
            auto [a, b] = stream_pair();
            LineReader reader(b);
            constexpr std::size_t total = 3 * LineReader::max_batch + 100;
            auto w = co_await a.write(std::string(total, '\n'));
            CHECK(w.has_value());
            a.close();
            std::size_t lines = 0, biggest = 0;
            for (;;) {
                auto batch = co_await reader.next_batch();
                if (!batch) {
                    CHECK(batch.error().is(Errc::end_of_stream));
                    break;
                }
                lines += batch->pieces.size();
                biggest = std::max(biggest, batch->pieces.size());
                CHECK(batch->data == std::string(batch->pieces.size(), '\n'));
            }
            CHECK(lines == total);
            CHECK(biggest == LineReader::max_batch);  // a 12 KiB chunk holds more
        });
    }
}
