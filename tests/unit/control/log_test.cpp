#include <dirent.h>
#include <fstream>
#include <regex>
#include <sstream>
#include <sys/stat.h>

#include "harness.hpp"
#include "reins/control/log_writer.hpp"

using namespace reins;
using namespace reins::control;
using namespace reins::test;

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/reins-log-XXXXXX";
        path = ::mkdtemp(t);
    }
    ~TempDir() {
        std::string cmd = "rm -rf '" + path + "'";
        if (std::system(cmd.c_str()) != 0) MESSAGE("could not remove ", path);
    }
};

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

}  // namespace

TEST_SUITE("log") {
    TEST_CASE("lines are written with a UTC timestamp and their stream") {
        TempDir tmp;
        run_test([&tmp](std::stop_token) -> Task<void> {
            LogWriter w([&tmp](const std::string& s) { return LogTarget{tmp.path + "/logs/" + s + ".log"}; });
            co_await w.write(line("hello"));
            co_await w.write(line("oops", true));
            co_await w.write(line("tail of a long line", true, true));
            w.note("api", "running (ready: tcp 127.0.0.1:8000)");
            co_await sleep(std::chrono::milliseconds(5));  // a loop turn: the batch is written
            auto text = slurp(tmp.path + "/logs/api.log");
            std::regex re(
                "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z out hello\n"
                "\\S+ err oops\n\\S+ err\\+ tail of a long line\n\\S+ reins running \\(ready: tcp 127.0.0.1:8000\\)\n$");
            CHECK_MESSAGE(std::regex_match(text, re), text);
        });
        struct stat st {};
        REQUIRE(::stat((tmp.path + "/logs/api.log").c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0600);
    }

    TEST_CASE("rotation keeps exactly `keep` old files, none past max_size") {
        TempDir tmp;
        run_test([&tmp](std::stop_token) -> Task<void> {
            LogWriter w([&tmp](const std::string& s) { return LogTarget{tmp.path + "/" + s + ".log", 1000, 3}; });
            for (int i = 0; i < 200; ++i) {
                co_await w.write(line("line " + std::to_string(i) + std::string(40, 'x')));
                if (i % 10 == 0) co_await sleep(std::chrono::milliseconds(0));
            }
            w.flush();
        });
        CHECK(files_in(tmp.path) == std::vector<std::string>{"api.log", "api.log.1", "api.log.2", "api.log.3"});
        for (auto f : {"api.log", "api.log.1", "api.log.2", "api.log.3"}) CHECK(file_size(tmp.path + "/" + f) <= 1000);
        CHECK(slurp(tmp.path + "/api.log").find("line 199") != std::string::npos);
        CHECK(slurp(tmp.path + "/api.log.3").find("line 199") == std::string::npos);
    }

    TEST_CASE("a line longer than max_size goes whole into a fresh file") {
        TempDir tmp;
        run_test([&tmp](std::stop_token) -> Task<void> {
            LogWriter w([&tmp](const std::string& s) { return LogTarget{tmp.path + "/" + s + ".log", 100, 2}; });
            co_await w.write(line("short"));
            co_await w.write(line(std::string(300, 'L')));
            co_await w.write(line("after"));
            w.flush();
        });
        CHECK(slurp(tmp.path + "/api.log.1").find(std::string(300, 'L')) != std::string::npos);
        CHECK(slurp(tmp.path + "/api.log.2").find("short") != std::string::npos);
        CHECK(slurp(tmp.path + "/api.log").find("after") != std::string::npos);
    }

    TEST_CASE("an unwritable log is reported once, not thrown") {
        TempDir tmp;
        std::ofstream(tmp.path + "/blocker") << "a file where a folder should be";
        int errors = 0;
        run_test([&tmp, &errors](std::stop_token) -> Task<void> {
            LogWriter w([&tmp](const std::string&) { return LogTarget{tmp.path + "/blocker/api.log"}; },
                        [&errors](const std::string&) { ++errors; });
            co_await w.write(line("a"));
            w.flush();
            co_await w.write(line("b"));
            w.flush();
        });
        CHECK(errors == 1);
    }
}
