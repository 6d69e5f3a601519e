#include <dirent.h>
#include <ctime>
#include <fstream>
#include <regex>
#include <sstream>
#include <sys/stat.h>
#include <thread>

#include "harness.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/async/timer.hpp"
#include "reins/control/log_writer.hpp"
#include "temp_dir.hpp"

using namespace reins;
using namespace reins::control;
using namespace reins::test;
using namespace std::chrono_literals;

namespace {

std::string slurp(const std::string& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

long file_size(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? static_cast<long>(st.st_size) : -1;
}

std::vector<std::string> files_in(const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (auto* e = ::readdir(d))
            if (e->d_name[0] != '.') out.emplace_back(e->d_name);
        ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

supervisor::OutputLine line(std::string text, bool err = false, bool cont = false) {
    return {"api", err, cont, std::move(text), std::chrono::system_clock::now()};
}

// The lines of one read, owned, as the capture would hand them over.
struct OwnedBatch {
    std::string data;
    std::vector<LineReader::Piece> pieces;
    explicit OwnedBatch(const std::vector<std::pair<std::string, bool>>& lines) {
        for (const auto& [text, cont] : lines) {
            pieces.push_back(LineReader::Piece{data.size(), text.size(), cont});
            data += text;
            if (!cont) data += '\n';  // pieces have no newline between them; it does not matter here
        }
    }
    supervisor::OutputBatch view(bool err, std::chrono::system_clock::time_point t) const {
        return supervisor::OutputBatch{"api", err, t, data, pieces, {}};
    }
};

// 2026-11-22T10:15:03.123Z
std::chrono::system_clock::time_point known_time() {
    std::tm tm{};
    tm.tm_year = 2026 - 1900;
    tm.tm_mon = 10;
    tm.tm_mday = 22;
    tm.tm_hour = 10;
    tm.tm_min = 15;
    tm.tm_sec = 3;
    return std::chrono::system_clock::from_time_t(::timegm(&tm)) + std::chrono::milliseconds(123);
}

Task<void> make_way_after(std::string dir, std::chrono::milliseconds d) {
    auto slept = co_await sleep(d);
    (void)slept;
    ::unlink((dir + "/blocker").c_str());
    ::mkdir((dir + "/blocker").c_str(), 0700);
}

Task<void> stop_after(std::stop_source* stop, std::chrono::milliseconds d) {
    auto slept = co_await sleep(d);
    (void)slept;
    stop->request_stop();
}

// Two lines, a piece of a long one and a note; after a loop turn they are
// in <dir>/logs/api.log, each with its stamp and stream tag.
Task<void> write_stamped_lines(std::string dir) {
    LogWriter w([dir](const std::string& s) { return LogTarget{dir + "/logs/" + s + ".log"}; });
    co_await w.write(line("hello"));
    co_await w.write(line("oops", true));
    co_await w.write(line("tail of a long line", true, true));
    w.note("api", "running (ready: tcp 127.0.0.1:8000)");
    co_await sleep(std::chrono::milliseconds(5));  // a loop turn: the batch is written
    auto text = slurp(dir + "/logs/api.log");
    std::regex re(
        "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z out hello\n"
        "\\S+ err oops\n\\S+ err\\+ tail of a long line\n\\S+ reins running \\(ready: tcp 127.0.0.1:8000\\)\n$");
    CHECK_MESSAGE(std::regex_match(text, re), text);
}

// 200 lines of about 50 bytes, one by one, into <dir>/api.log rotated at
// 1000 bytes with 3 old files kept.
Task<void> write_lines_rotating(std::string dir) {
    LogWriter w([dir](const std::string& s) { return LogTarget{dir + "/" + s + ".log", 1000, 3}; });
    for (int i = 0; i < 200; ++i) {
        co_await w.write(line("line " + std::to_string(i) + std::string(40, 'x')));
        if (i % 10 == 0) co_await sleep(std::chrono::milliseconds(0));
    }
    w.flush();
}

// A 300-byte line between two short ones, into <dir>/api.log rotated at 100
// bytes with 2 old files kept.
Task<void> write_line_past_max_size(std::string dir) {
    LogWriter w([dir](const std::string& s) { return LogTarget{dir + "/" + s + ".log", 100, 2}; });
    co_await w.write(line("short"));
    co_await w.write(line(std::string(300, 'L')));
    co_await w.write(line("after"));
    w.flush();
}

// A batch of stdout lines (with a piece) at known_time(), then one of
// stderr 1 ms later, into <dir>/api.log.
Task<void> write_out_and_err_batches(std::string dir) {
    LogWriter w([dir](const std::string& s) { return LogTarget{dir + "/" + s + ".log"}; });
    OwnedBatch out({{"first", false}, {"", false}, {"long-a", false}, {"long-b", true}, {"last", false}});
    OwnedBatch err({{"oops", false}, {"oops-b", true}});
    co_await w.write(out.view(false, known_time()));
    co_await w.write(err.view(true, known_time() + 1ms));
    w.flush();
}

// The same 200 lines as write_lines_rotating, in one batch.
Task<void> write_batch_rotating(std::string dir) {
    LogWriter w([dir](const std::string& s) { return LogTarget{dir + "/" + s + ".log", 1000, 3}; });
    std::vector<std::pair<std::string, bool>> lines;
    for (int i = 0; i < 200; ++i) lines.emplace_back("line " + std::to_string(i) + std::string(40, 'x'), false);
    OwnedBatch batch(lines);
    co_await w.write(batch.view(false, std::chrono::system_clock::now()));
    w.flush();
}

// 64 Ki empty lines in one batch into <dir>/api.log: most on disk before
// write() returns, all of them after a loop turn.
Task<void> write_empty_lines(std::string dir) {
    LogWriter w([dir](const std::string& s) { return LogTarget{dir + "/" + s + ".log"}; });
    std::vector<std::pair<std::string, bool>> lines(65536, {"", false});
    OwnedBatch batch(lines);
    co_await w.write(batch.view(false, known_time()));
    // Already on disk but for less than 128 KiB: the rest goes at the loop turn.
    CHECK(file_size(dir + "/api.log") >= 65536 * 30 - 128 * 1024);
    co_await sleep(5ms);
    CHECK(file_size(dir + "/api.log") == 65536 * 30);  // "<stamp> out \n"
}

// One line into <dir>/api.log; *seen is its size as another thread saw it
// 100 ms later, while the loop was blocked in its poll.
Task<void> write_quiet_line(std::string dir, long* seen) {
    LogWriter w([dir](const std::string& s) { return LogTarget{dir + "/" + s + ".log"}; });
    co_await w.write(line("quiet"));
    std::thread looker([path = dir + "/api.log", seen] {
        std::this_thread::sleep_for(100ms);
        *seen = file_size(path);
    });
    co_await sleep(300ms);
    looker.join();
}

// The log's folder is a file at first: once a write of it failed, the next
// write waits; 150 ms later the file makes way for a folder, and the held
// lines and the new one reach the file.
Task<void> write_once_writable(std::string dir, std::vector<std::string>* errors) {
    LogWriter w([dir](const std::string&) { return LogTarget{dir + "/blocker/api.log"}; },
                [errors](const std::string& e) { errors->push_back(e); });
    OwnedBatch held({{"held", false}});
    TaskScope scope = TaskScope::shielded();
    scope.spawn(make_way_after(dir, 150ms));
    co_await w.write(held.view(false, std::chrono::system_clock::now()));
    w.flush();  // fails: from now on the log is stalled, and a write waits
    const auto t0 = std::chrono::steady_clock::now();
    co_await w.write(line("after"));
    CHECK(std::chrono::steady_clock::now() - t0 >= 100ms);
    w.flush();
    co_await scope.join();
}

// The folder never comes: the write returns once its stop token fires.
Task<void> write_until_stopped(std::string dir, int* errors) {
    LogWriter w([dir](const std::string&) { return LogTarget{dir + "/blocker/api.log"}; },
                [errors](const std::string&) { ++*errors; });
    OwnedBatch held({{"held", false}});
    std::stop_source stop;
    TaskScope scope = TaskScope::shielded();
    scope.spawn(stop_after(&stop, 200ms));
    auto batch = held.view(false, std::chrono::system_clock::now());
    batch.stop = stop.get_token();
    co_await w.write(batch);
    w.flush();  // fails: stalled
    co_await w.write(batch);
    CHECK(stop.stop_requested());
    co_await scope.join();
}

}  // namespace

TEST_SUITE("log") {
    TEST_CASE("lines are written with a UTC timestamp and their stream") {
        TempDir tmp("log");
        run_test([&tmp](std::stop_token) { return write_stamped_lines(tmp.path); });
        struct stat st {};
        REQUIRE(::stat((tmp.path + "/logs/api.log").c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0600);
    }

    TEST_CASE("rotation keeps exactly `keep` old files, none past max_size") {
        TempDir tmp("log");
        run_test([&tmp](std::stop_token) { return write_lines_rotating(tmp.path); });
        CHECK(files_in(tmp.path) == std::vector<std::string>{"api.log", "api.log.1", "api.log.2", "api.log.3"});
        for (auto f : {"api.log", "api.log.1", "api.log.2", "api.log.3"}) CHECK(file_size(tmp.path + "/" + f) <= 1000);
        CHECK(slurp(tmp.path + "/api.log").find("line 199") != std::string::npos);
        CHECK(slurp(tmp.path + "/api.log.3").find("line 199") == std::string::npos);
    }

    TEST_CASE("a line longer than max_size goes whole into a fresh file") {
        TempDir tmp("log");
        run_test([&tmp](std::stop_token) { return write_line_past_max_size(tmp.path); });
        CHECK(slurp(tmp.path + "/api.log.1").find(std::string(300, 'L')) != std::string::npos);
        CHECK(slurp(tmp.path + "/api.log.2").find("short") != std::string::npos);
        CHECK(slurp(tmp.path + "/api.log").find("after") != std::string::npos);
    }

    TEST_CASE("an unwritable log holds the batch and retries until it can be written, reported once") {
        TempDir tmp("log");
        std::ofstream(tmp.path + "/blocker") << "a file where a folder should be";
        std::vector<std::string> errors;
        run_test([&tmp, &errors](std::stop_token) { return write_once_writable(tmp.path, &errors); });
        REQUIRE(errors.size() == 2);
        CHECK(errors[0].find("waits until it can be written") != std::string::npos);
        CHECK(errors[1].find("writing again") != std::string::npos);
        std::string text = slurp(tmp.path + "/blocker/api.log");
        CHECK(text.find(" out held\n") != std::string::npos);
        CHECK(text.find(" out after\n") != std::string::npos);
    }

    TEST_CASE("a stalled write ends when its run is stopped; the lines stay pending, none thrown") {
        TempDir tmp("log");
        std::ofstream(tmp.path + "/blocker") << "a file where a folder should be";
        int errors = 0;
        run_test([&tmp, &errors](std::stop_token) { return write_until_stopped(tmp.path, &errors); });
        CHECK(errors == 1);
    }

    TEST_CASE("a batch: one timestamp for all its lines, stream tags, pieces as out+/err+") {
        CHECK(LogWriter::timestamp(known_time()) == "2026-11-22T10:15:03.123Z");
        CHECK(LogWriter::timestamp(known_time() + 877ms) == "2026-11-22T10:15:04.000Z");
        TempDir tmp("log");
        run_test([&tmp](std::stop_token) { return write_out_and_err_batches(tmp.path); });
        const std::string s = "2026-11-22T10:15:03.123Z ";
        const std::string e = "2026-11-22T10:15:03.124Z ";
        CHECK(slurp(tmp.path + "/api.log") == s + "out first\n" + s + "out \n" + s + "out long-a\n" + s +
                                                  "out+ long-b\n" + s + "out last\n" + e + "err oops\n" + e +
                                                  "err+ oops-b\n");
    }

    TEST_CASE("rotation is decided line by line inside a batch") {
        TempDir tmp("log");
        run_test([&tmp](std::stop_token) { return write_batch_rotating(tmp.path); });
        CHECK(files_in(tmp.path) == std::vector<std::string>{"api.log", "api.log.1", "api.log.2", "api.log.3"});
        for (auto f : {"api.log", "api.log.1", "api.log.2", "api.log.3"}) CHECK(file_size(tmp.path + "/" + f) <= 1000);
        // Rotated files were filled first (lines are 76-78 bytes).
        for (auto f : {"api.log.1", "api.log.2", "api.log.3"}) CHECK(file_size(tmp.path + "/" + f) > 900);
        std::string newest = slurp(tmp.path + "/api.log");
        CHECK(newest.find("line 199x") != std::string::npos);
        CHECK(newest.back() == '\n');
    }

    TEST_CASE("a batch of 64 Ki empty lines is written whole, in bounded pieces") {
        TempDir tmp("log");
        run_test([&tmp](std::stop_token) { return write_empty_lines(tmp.path); });
    }

    TEST_CASE("a lone line is in the file before the loop waits for I/O") {
        // A quiet service's last line must not wait in the buffer until
        // something else wakes the loop: `reins logs` reads the file.
        TempDir tmp("log");
        long seen = -2;
        run_test([&tmp, &seen](std::stop_token) { return write_quiet_line(tmp.path, &seen); });
        CHECK(seen == 30 + 5);  // "<stamp> out quiet\n"
    }
}
