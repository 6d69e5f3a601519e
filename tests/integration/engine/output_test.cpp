// Output capture: every line reaches the sink, long lines in 64 KiB pieces,
// and a slow sink slows the child instead of growing memory.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string_view>

#include "engine_harness.hpp"

using namespace reins;
using namespace reins::test;
using namespace std::chrono_literals;

namespace {

long vm_hwm_kib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

// Counts bytes and pauses now and then, like a log writer behind on disk.
// Checks the fixture's flood lines ("flood stdout <counter> xxx…") arrive
// in order, none lost or repeated.
class SlowSink : public OutputSink {
public:
    Task<void> write(OutputBatch batch) override {
        if (batch.err) co_return;  // the fixture's own diagnostics ("received SIGTERM")
        ++batches;
        const std::size_t before = lines;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            std::string_view text = batch.text(i);
            bytes += text.size() + 1;
            ++lines;
            if (batch.continuation(i)) ++pieces;
            max_piece = std::max(max_piece, text.size());
            check_counter(text, batch.continuation(i));
        }
        if (lines / 2000 != before / 2000) co_await sleep(1ms);
    }
    std::size_t bytes = 0, lines = 0, pieces = 0, max_piece = 0, batches = 0;
    std::size_t next_counter = 0, out_of_order = 0;

private:
    void check_counter(std::string_view text, bool continuation) {
        constexpr std::string_view tag = "flood stdout ";
        if (continuation || text.substr(0, tag.size()) != tag) return;
        const std::size_t n = std::stoul(std::string(text.substr(tag.size(), 10)));
        if (n != next_counter) ++out_of_order;
        next_counter = n + 1;
    }
};

}  // namespace

TEST_SUITE("output") {
    TEST_CASE("a 50 MB flood through a slow sink arrives whole, memory stays flat") {
        SlowSink sink;
        auto opts = sink_options(&sink);
        Supervisor sup(opts);
        constexpr std::size_t total = 50u << 20;
        auto s = spec("flood", fixture_cmd({"--no-listen", "--flood", std::to_string(total), "--print-ready", "done"}));
        s.ready.kind = ProbeKind::log;
        s.ready.target = "^done$";
        s.ready.timeout = Millis(60000);
        REQUIRE(sup.add(s));
        long before = vm_hwm_kib();
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            auto r = co_await sv.start();
            REQUIRE_MESSAGE(r.has_value(), why(r));
        }, 120s);
        long grew = vm_hwm_kib() - before;
        CHECK(sink.bytes == total + 5);  // the flood and "done\n"
        CHECK(sink.out_of_order == 0);
        CHECK(sink.next_counter == total / 100);  // 100-byte lines
        // Batches, not a call per line: a 64 KiB read holds ~650 lines.
        MESSAGE(sink.lines, " lines in ", sink.batches, " batches");
        CHECK(sink.batches * 50 < sink.lines);
        MESSAGE("peak RSS grew by ", grew, " KiB");
#if !defined(__SANITIZE_ADDRESS__)
        CHECK(grew < 32 * 1024);
#endif
    }

    TEST_CASE("lines longer than 64 KiB come in pieces marked as continuations") {
        SlowSink sink;
        Supervisor sup(sink_options(&sink));
        auto s = spec("long", fixture_cmd({"--no-listen", "--flood", "200000", "--line-length", "200000",
                                           "--print-ready", "done"}));
        s.ready.kind = ProbeKind::log;
        s.ready.target = "^done$";
        REQUIRE(sup.add(s));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            auto r = co_await sv.start();
            REQUIRE_MESSAGE(r.has_value(), why(r));
        });
        CHECK(sink.max_piece == 64 * 1024);
        CHECK(sink.pieces == 3);  // 199 999 bytes = 65 536 × 3 + 3 391
        CHECK(sink.bytes == 200000 + 3 + 5);  // each piece counted with a "newline", plus "done\n"
    }

    TEST_CASE("a ready line in the middle of a batch is seen, and every line reaches the sink in order") {
        CollectingSink sink;
        Supervisor sup(sink_options(&sink));
        // One write(2): the four lines come in one read, so in one batch.
        auto s = spec("mid", CommandSpec{"printf 'one\\ntwo\\nready now\\nthree\\n'; exec sleep 30"});
        s.ready.kind = ProbeKind::log;
        s.ready.target = "^ready";
        s.ready.timeout = Millis(5000);
        REQUIRE(sup.add(s));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            auto r = co_await sv.start();
            REQUIRE_MESSAGE(r.has_value(), why(r));
            CHECK(sv.find("mid")->status().state == ServiceState::running);
        });
        std::vector<std::string> texts;
        for (const auto& l : sink.lines) texts.push_back(l.text);
        CHECK(texts == std::vector<std::string>{"one", "two", "ready now", "three"});
        for (const auto& l : sink.lines) CHECK(l.service == "mid");
    }

    TEST_CASE("the recent-lines tail holds the last lines of a flood") {
        Supervisor sup;  // no sink: output is read and dropped, the tail is still kept
        auto s = spec("tail", fixture_cmd({"--no-listen", "--flood", "1000000", "--crash-after", "1ms"}));
        s.restart.mode = RestartMode::no;
        REQUIRE(sup.add(s));
        run_engine(sup, [](Supervisor& sv, std::stop_token) -> Task<void> {
            auto r = co_await sv.start();
            (void)r;  // ready at spawn (no probe), then it exits
            for (int i = 0; i < 500 && sv.find("tail")->status().state != ServiceState::stopped; ++i)
                co_await sleep(20ms);
        });
        auto st = sup.find("tail")->status();
        CHECK(st.state == ServiceState::stopped);
        // 10 000 lines of 100 bytes; the tail is the last 20 lines, in order
        // (one of them may be the fixture's exit notice on stderr).
        REQUIRE(st.last_output.size() == 20);
        std::vector<std::string> flood;
        for (const auto& l : st.last_output)
            if (l.rfind("flood stdout ", 0) == 0) flood.push_back(l);
        REQUIRE(flood.size() >= 19);
        for (std::size_t i = 0; i < flood.size(); ++i) {
            char want[32];
            std::snprintf(want, sizeof want, "flood stdout %010zu ", 10000 - flood.size() + i);
            CHECK_MESSAGE(flood[i].rfind(want, 0) == 0, flood[i]);
            CHECK(flood[i].size() == 99);
        }
    }
}
