// Output capture: every line reaches the sink, long lines in 64 KiB pieces,
// and a slow sink slows the child instead of growing memory.
#include <fstream>

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
class SlowSink : public OutputSink {
public:
    Task<void> write(OutputLine line) override {
        if (line.err) co_return;  // the fixture's own diagnostics ("received SIGTERM")
        bytes += line.text.size() + 1;
        ++lines;
        if (line.continuation) ++pieces;
        max_piece = std::max(max_piece, line.text.size());
        if (lines % 2000 == 0) co_await sleep(1ms);
    }
    std::size_t bytes = 0, lines = 0, pieces = 0, max_piece = 0;
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
}
