// Reading stored logs: a line split into stamp, tag and text, tail_lines
// backwards across rotated files, and merge_by_time across services.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "log_reader_harness.hpp"
#include "reins/control/log_reader.hpp"
#include "reins/control/log_writer.hpp"
#include "temp_dir.hpp"

using namespace reins;
using namespace reins::control;
using namespace reins::test;

namespace {

/// The text part of each stored line ("line 7" of "2026-... out line 7").
std::vector<std::string> texts(const std::vector<std::string>& raw) {
    std::vector<std::string> out;
    for (const auto& r : raw) out.push_back(parse_log_line("api", r).text);
    return out;
}

std::vector<std::string> line_texts(int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i <= to; ++i) out.push_back("line " + std::to_string(i));
    return out;
}

supervisor::OutputLine out_line(std::string text) {
    return {"api", false, false, std::move(text), std::chrono::system_clock::now()};
}

/// Writes "line 0" ... "line 199" through a LogWriter rotating at 1000 bytes,
/// keeping 3 old files: api.log, api.log.1, .2, .3 exist afterwards.
void write_rotated(const std::string& path) {
    Loop loop;
    auto body = [](std::string p) -> Task<void> {
        LogWriter w([p](const std::string&) { return LogTarget{p, 1000, 3}; });
        for (int i = 0; i < 200; ++i) {
            auto line = out_line("line " + std::to_string(i));
            co_await w.write(std::move(line));
        }
        w.flush();
    };
    loop.run(body(path));
    REQUIRE(loop.close());
}

std::size_t count_lines(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string s = ss.str();
    return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

/// Bytes this process has read so far (/proc/self/io rchar), or -1.
long long bytes_read() {
    std::ifstream f("/proc/self/io");
    std::string key;
    long long v = -1;
    while (f >> key >> v)
        if (key == "rchar:") return v;
    return -1;
}

}  // namespace

TEST_SUITE("logread") {
    TEST_CASE("a stored line is split into stamp, tag and text") {
        auto l = parse_log_line("api", "2026-11-22T10:15:03.123Z err+ tail of it");
        CHECK(l.service == "api");
        CHECK(l.stamp == "2026-11-22T10:15:03.123Z");
        CHECK(l.tag == "err+");
        CHECK(l.text == "tail of it");
        CHECK(l.raw == "2026-11-22T10:15:03.123Z err+ tail of it");
        auto empty = parse_log_line("api", "2026-11-22T10:15:03.123Z out ");
        CHECK(empty.tag == "out");
        CHECK(empty.text.empty());
        for (std::string bad : {"hello world", "2026-11-22 10:15:03.123Z out x", "2026-11-22T10:15:03.123Z", ""}) {
            auto b = parse_log_line("api", bad);
            CHECK(b.stamp.empty());
            CHECK(b.tag.empty());
            CHECK(b.raw == bad);
            CHECK(b.text == bad);
        }
    }

    TEST_CASE("tail reads backwards across rotated files, oldest first") {
        TempDir tmp("logread");
        std::string path = tmp.path + "/api.log";
        write_rotated(path);
        auto some = tail_lines(path, 3, 40);
        REQUIRE(some);
        CHECK(texts(*some) == line_texts(160, 199));
        // More lines than api.log alone holds: .1 and .2 contribute too.
        REQUIRE(count_lines(path) < 40);
        auto one = tail_lines(path, 3, 1);
        REQUIRE(one);
        CHECK(texts(*one) == line_texts(199, 199));
        auto none = tail_lines(path, 3, 0);
        REQUIRE(none);
        CHECK(none->empty());
    }

    TEST_CASE("n larger than everything returns every stored line, and only `keep` files are read") {
        TempDir tmp("logread");
        std::string path = tmp.path + "/api.log";
        write_rotated(path);
        std::size_t stored = 0;
        for (auto f : {"", ".1", ".2", ".3"}) stored += count_lines(path + f);
        auto all = tail_lines(path, 3, 100000);
        REQUIRE(all);
        REQUIRE(all->size() == stored);
        int first = 200 - static_cast<int>(stored);
        CHECK(texts(*all) == line_texts(first, 199));
        auto two = tail_lines(path, 1, 100000);  // api.log and api.log.1 only
        REQUIRE(two);
        CHECK(two->size() == count_lines(path) + count_lines(path + ".1"));
    }

    TEST_CASE("lines without a trailing newline, empty lines, long lines across blocks") {
        TempDir tmp("logread");
        std::string path = tmp.path + "/x.log";
        write_file(path + ".1", "a\nb");  // an old file cut short
        write_file(path, "\nc\n\nd");
        auto all = tail_lines(path, 1, 100);
        REQUIRE(all);
        CHECK(*all == std::vector<std::string>{"a", "b", "", "c", "", "d"});
        auto last2 = tail_lines(path, 1, 2);
        REQUIRE(last2);
        CHECK(*last2 == std::vector<std::string>{"", "d"});

        std::string big(200 * 1024, 'x');
        write_file(path, "first\n" + big + "\nlast\n");
        auto lines = tail_lines(path, 0, 3);
        REQUIRE(lines);
        CHECK(*lines == std::vector<std::string>{"first", big, "last"});
        // `end` stops the current file early (a follower's start).
        auto before = tail_lines(path, 0, 10, 6);
        REQUIRE(before);
        CHECK(*before == std::vector<std::string>{"first"});
    }

    TEST_CASE("missing files are an empty result; unreadable ones name the path") {
        TempDir tmp("logread");
        auto none = tail_lines(tmp.path + "/nothing.log", 5, 10);
        REQUIRE(none);
        CHECK(none->empty());
        auto dir = tail_lines(tmp.path, 0, 10);
        REQUIRE_FALSE(dir);
        CHECK(dir.error().message().find(tmp.path) != std::string::npos);
    }

    TEST_CASE("tail of a huge file reads only its end") {
        TempDir tmp("logread");
        std::string path = tmp.path + "/big.log";
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        REQUIRE(fd >= 0);
        REQUIRE(::ftruncate(fd, 256ll << 20) == 0);  // 256 MiB (sparse) before the lines
        ::close(fd);
        append_file(path, "\nx\ny\n");
        long long before = bytes_read();
        auto lines = tail_lines(path, 0, 2);
        long long after = bytes_read();
        REQUIRE(lines);
        CHECK(*lines == std::vector<std::string>{"x", "y"});
        if (before < 0) MESSAGE("no /proc/self/io: read volume not checked");
        else CHECK(after - before < (1 << 20));
    }

    TEST_CASE("merge_by_time interleaves services by stamp, stably, and keeps the last n") {
        std::vector<std::pair<std::string, std::vector<std::string>>> in{
            {"api",
             {"2026-01-01T00:00:01.000Z out a1", "2026-01-01T00:00:03.000Z out a3", "not a log line",
              "2026-01-01T00:00:03.000Z out a3b"}},
            {"web", {"2026-01-01T00:00:02.000Z err w2", "2026-01-01T00:00:03.000Z out w3", "2026-01-01T00:00:04.000Z out w4"}},
        };
        auto all = merge_by_time(in, 100);
        std::vector<std::string> got;
        for (const auto& l : all) got.push_back(l.service + ":" + l.text);
        CHECK(got == std::vector<std::string>{"api:a1", "web:w2", "api:a3", "api:not a log line", "api:a3b", "web:w3",
                                              "web:w4"});
        auto last3 = merge_by_time(in, 3);
        REQUIRE(last3.size() == 3);
        CHECK(last3[0].text == "a3b");
        CHECK(last3[2].raw == "2026-01-01T00:00:04.000Z out w4");
        CHECK(merge_by_time({}, 10).empty());
    }
}
