#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>

#include "harness.hpp"
#include "reins/control/log_reader.hpp"
#include "reins/control/log_writer.hpp"
#include "temp_dir.hpp"

using namespace reins;
using namespace reins::control;
using namespace reins::test;

namespace {

void write_file(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

void append_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::app) << text;
}

std::vector<std::string> numbered(int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i <= to; ++i) out.push_back(std::to_string(i));
    return out;
}

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

double cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/// Appends "1\n" ... "N\n" to `file`, rotating every `rotate_every` lines;
/// `burst` lines (and their rotations) are written between two yields.
Task<void> write_numbered(LogFile* file, int n, int rotate_every, int burst) {
    for (int i = 1; i <= n; ++i) {
        auto r = file->append(std::to_string(i) + "\n");
        CHECK(r.has_value());
        if (i % rotate_every == 0) {
            auto rotated = file->rotate();
            CHECK(rotated.has_value());
        }
        if (i % burst == 0) {
            auto slept = co_await sleep(std::chrono::milliseconds(1));
            (void)slept;
        }
    }
}

/// Collects lines from `f` until the last one is `last` (or a failure).
Task<void> collect(LogFollower* f, std::string last, std::vector<std::string>* got, std::stop_token stop) {
    while (got->empty() || got->back() != last) {
        auto r = co_await f->next(stop);
        if (!r) {
            CHECK_MESSAGE(r.error().is(Errc::cancelled), r.error().message());
            co_return;
        }
        CHECK_FALSE(r->empty());
        got->insert(got->end(), r->begin(), r->end());
    }
}

Task<void> follow_appends(std::string path, std::stop_token stop) {
    auto f = LogFollower::open(path);
    CHECK(f.has_value());
    if (!f) co_return;
    CHECK(f->start() == 12);  // after "old 2\n": the partial line comes from next()
    auto backlog = tail_lines(path, 0, 10, f->start());
    CHECK((backlog && *backlog == std::vector<std::string>{"old 1", "old 2"}));
    LogFollower* follower = &*f;
    auto next = [follower](std::stop_token s) { return follower->next(std::move(s)); };
    auto nothing = co_await with_timeout(100ms, stop, next);
    CHECK_FALSE(nothing.has_value());
    append_file(path, "ial\nnew 1\nnew");
    auto got = co_await follower->next(stop);
    CHECK((got && *got == std::vector<std::string>{"partial", "new 1"}));
    append_file(path, " 2\n");
    auto more = co_await follower->next(stop);
    CHECK((more && *more == std::vector<std::string>{"new 2"}));
}

Task<void> follow_created(std::string path, std::stop_token stop) {
    auto dir = make_dirs(path.substr(0, path.rfind('/')));
    CHECK(dir.has_value());
    auto f = LogFollower::open(path);
    CHECK(f.has_value());
    if (!f) co_return;
    CHECK(f->start() == 0);
    LogFile file(path, 1 << 20, 2);
    auto w = file.append("one\ntwo\n");
    CHECK(w.has_value());
    auto got = co_await f->next(stop);
    CHECK((got && *got == std::vector<std::string>{"one", "two"}));
}

Task<void> follow_rotations(std::string path, int n, int rotate_every, int burst, std::stop_token stop) {
    std::string cmd = "rm -f '" + path + "'*";
    CHECK(std::system(cmd.c_str()) == 0);
    LogFile file(path, 1 << 20, 5 * burst / rotate_every + 5);
    auto first = file.append("written before following\n");
    CHECK(first.has_value());
    auto f = LogFollower::open(path);
    CHECK(f.has_value());
    if (!f) co_return;
    std::vector<std::string> got;
    TaskScope scope(stop);
    scope.spawn(collect(&*f, std::to_string(n), &got, scope.token()));
    scope.spawn(write_numbered(&file, n, rotate_every, burst));
    co_await scope.join();
    CHECK(got == numbered(1, n));
}

Task<void> follow_past_keep(std::string path, std::stop_token stop) {
    LogFile file(path, 1 << 20, 2);
    CHECK(file.append("0\n").has_value());
    auto f = LogFollower::open(path);
    CHECK(f.has_value());
    if (!f) co_return;
    // 10 rotations at once with keep = 2: lines 6-40 are gone before the
    // follower reads (1-5 it still reads through its fd); it must still end
    // on the newest line, in order, each line once.
    for (int i = 1; i <= 50; ++i) {
        auto r = file.append(std::to_string(i) + "\n");
        CHECK(r.has_value());
        if (i % 5 == 0) CHECK(file.rotate().has_value());
    }
    CHECK(file.append("51\n").has_value());
    std::vector<std::string> got;
    co_await collect(&*f, "51", &got, stop);
    CHECK_FALSE(got.empty());
    for (std::size_t i = 1; i < got.size(); ++i) CHECK(std::stoi(got[i]) > std::stoi(got[i - 1]));
    CHECK(got.size() >= 11);  // at least 41-51: the files that were kept
}

Task<void> follow_idle(std::string path, std::stop_token stop) {
    auto f = LogFollower::open(path);
    CHECK(f.has_value());
    if (!f) co_return;
    LogFollower* follower = &*f;
    auto next = [follower](std::stop_token s) { return follower->next(std::move(s)); };
    double cpu0 = cpu_seconds();
    auto r = co_await with_timeout(300ms, stop, next);
    double used = cpu_seconds() - cpu0;
    CHECK_FALSE(r.has_value());
    if (!r) CHECK(r.error().is(Errc::timeout));
    CHECK_MESSAGE(used < 0.1, "the follower used ", used, "s of CPU while nothing was written");
}

Task<void> set_after_a_turn(bool* flag) {
    auto r = co_await sleep(0ms);
    (void)r;
    *flag = true;
}

Task<void> follow_flood(std::string path, std::stop_token stop) {
    auto f = LogFollower::open(path);
    CHECK(f.has_value());
    if (!f) co_return;
    const std::string line(99, 'x');
    std::string chunk;
    for (int i = 0; i < 1000; ++i) chunk += line + "\n";
    for (int i = 0; i < 40; ++i) append_file(path, chunk);  // 4 MB, 40 000 lines
    bool timer_fired = false;
    bool fired_midway = false;
    std::size_t lines = 0;
    TaskScope scope(stop);
    scope.spawn(set_after_a_turn(&timer_fired));
    while (lines < 40000) {
        auto got = co_await f->next(stop);
        CHECK(got.has_value());
        if (!got) break;
        std::size_t bytes = 0;
        for (const auto& l : *got) bytes += l.size() + 1;
        CHECK(bytes <= LogFollower::max_batch + 64 * 1024);
        lines += got->size();
        if (lines < 40000 && timer_fired) fired_midway = true;
    }
    co_await scope.join();
    CHECK(lines == 40000);
    CHECK_MESSAGE(fired_midway, "a follower with lines always ready never let the loop run");
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

    TEST_CASE("a follower sees appended lines, holds a partial line, and starts at the end") {
        TempDir tmp("logread");
        std::string path = tmp.path + "/api.log";
        write_file(path, "old 1\nold 2\npart");
        run_test([&path](std::stop_token stop) { return follow_appends(path, stop); }, 5s);
    }

    TEST_CASE("a follower of a file not created yet reads it from its start") {
        TempDir tmp("logread");
        run_test([&tmp](std::stop_token stop) { return follow_created(tmp.path + "/logs/api.log", stop); }, 5s);
    }

    TEST_CASE("a follower of a missing folder fails, naming the path") {
        run_test([](std::stop_token) -> Task<void> {
            auto f = LogFollower::open("/nonexistent/reins/logs/api.log");
            CHECK_FALSE(f.has_value());
            if (!f) CHECK(f.error().message().find("/nonexistent/reins/logs/api.log") != std::string::npos);
            co_return;
        });
    }

    TEST_CASE("a follower loses and repeats no line across rotations") {
        TempDir tmp("logread");
        std::string path = tmp.path + "/api.log";
        // Rotations with the follower running in between, and bursts of
        // several rotations it only sees afterwards (keep covers them).
        for (int burst : {1, 3, 25}) {
            CAPTURE(burst);
            run_test([&path, burst](std::stop_token stop) { return follow_rotations(path, 400, 7, burst, stop); }, 10s);
        }
    }

    TEST_CASE("a follower that fell behind by more than `keep` rotations goes on, in order") {
        TempDir tmp("logread");
        std::string path = tmp.path + "/api.log";
        run_test([&path](std::stop_token stop) { return follow_past_keep(path, stop); }, 5s);
    }

    TEST_CASE("a follower with nothing written does not wake") {
        TempDir tmp("logread");
        std::string path = tmp.path + "/api.log";
        write_file(path, "x\n");
        append_file(tmp.path + "/other.log", "");  // a neighbour, not written either
        run_test([&path](std::stop_token stop) { return follow_idle(path, stop); }, 5s);
    }

    TEST_CASE("a follower returns a flood in bounded batches and lets the loop run between them") {
        TempDir tmp("logread");
        std::string path = tmp.path + "/api.log";
        write_file(path, "");
        run_test([&path](std::stop_token stop) { return follow_flood(path, stop); }, 10s);
    }
}
