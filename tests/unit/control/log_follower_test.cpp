// LogFollower: appended lines, a file created later, rotations (even more
// than `keep` at once), no wake-ups while idle, and floods in bounded batches.
#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <string>
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

std::vector<std::string> numbered(int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i <= to; ++i) out.push_back(std::to_string(i));
    return out;
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
