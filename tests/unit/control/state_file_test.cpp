// Files of the state directory: written atomically, pid files, and
// state.json read back, missing, garbled or of the wrong types.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "reins/control/state_file.hpp"
#include "state_dir_harness.hpp"
#include "temp_dir.hpp"

using namespace reins;
using namespace reins::control;
using namespace reins::test;

namespace {

std::vector<std::string> entries(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_SUITE("state") {
    TEST_CASE("write_file_atomic replaces the file whole, leaves no temp file, sets the mode") {
        TempDir tmp("state");
        const std::string p = tmp.path + "/f.json";
        mode_t old = ::umask(077);
        REQUIRE(write_file_atomic(p, "one").has_value());
        REQUIRE(write_file_atomic(p, "two\n", 0644).has_value());
        ::umask(old);
        CHECK(slurp(p) == "two\n");
        CHECK(mode_of(p) == 0644);
        REQUIRE(write_file_atomic(p, "three").has_value());
        CHECK(mode_of(p) == 0600);
        CHECK(entries(tmp.path) == std::vector<std::string>{"f.json"});

        auto bad = write_file_atomic(tmp.path + "/missing/f.json", "x");
        REQUIRE_FALSE(bad.has_value());
        CHECK(bad.error().message().find(tmp.path + "/missing/f.json") != std::string::npos);
        CHECK(entries(tmp.path) == std::vector<std::string>{"f.json"});
    }

    TEST_CASE("pid files") {
        TempDir tmp("state");
        StatePaths paths{tmp.path};
        REQUIRE(write_pid_file(paths, "web", 4242).has_value());
        CHECK(slurp(paths.pid_file("web")) == "4242\n");
        CHECK(mode_of(paths.pid_file("web")) == 0600);
        remove_pid_file(paths, "web");
        CHECK_FALSE(exists(paths.pid_file("web")));
        remove_pid_file(paths, "web");  // already gone: fine
    }

    TEST_CASE("state.json round trip, missing file, garbage, wrong types") {
        TempDir tmp("state");
        StatePaths paths{tmp.path};
        auto missing = read_state(paths);
        REQUIRE_FALSE(missing.has_value());
        CHECK(missing.error().code == std::errc::no_such_file_or_directory);
        CHECK(missing.error().message().find(paths.state()) != std::string::npos);

        StateSnapshot snap;
        snap.supervisor = LockInfo{812, 123456789012ull, "2026-11-22T10:15:03.123Z", "0.1.0", "port 8123"};
        snap.config = "/home/u/app/reins.toml";
        snap.services.push_back(ServiceRecord{"web", "running", "healthy", 4242, 987654321ull, 5173, 2, "id-web",
                                              "2026-11-22T10:15:04.000Z", "exit 3", "serving"});
        snap.services.push_back(ServiceRecord{"db", "stopped", "", 0, 0, 0, 0, "", "", "signal 9", ""});
        REQUIRE(write_state(paths, snap).has_value());
        CHECK(mode_of(paths.state()) == 0600);
        auto back = read_state(paths);
        REQUIRE_MESSAGE(back.has_value(), back.error().message());
        CHECK(to_json(*back) == to_json(snap));
        CHECK(back->supervisor.start_time == 123456789012ull);
        CHECK(back->supervisor.data == "port 8123");
        REQUIRE(back->services.size() == 2);
        CHECK(back->services[0].pid_start_time == 987654321ull);
        CHECK(back->services[0].status_text == "serving");
        CHECK(back->services[1].last_exit == "signal 9");
        CHECK(nlohmann::json::parse(slurp(paths.state()))["version"] == state_file_version);

        // Missing fields keep their defaults.
        auto sparse = state_from_json(nlohmann::json::parse(R"({"services":[{"name":"x","pid":7}]})"));
        REQUIRE(sparse.has_value());
        CHECK(sparse->services.at(0).pid == 7);
        CHECK(sparse->services.at(0).state.empty());
        CHECK(sparse->supervisor.pid == 0);

        auto typed = state_from_json(nlohmann::json::parse(R"({"services":[{"name":"x","pid":"7"}]})"));
        REQUIRE_FALSE(typed.has_value());
        CHECK(typed.error().message().find("services[0].pid") != std::string::npos);
        CHECK_FALSE(state_from_json(nlohmann::json::parse(R"({"services":{}})")).has_value());
        CHECK_FALSE(state_from_json(nlohmann::json::parse(R"({"supervisor":{"start_time":-1}})")).has_value());
        CHECK_FALSE(state_from_json(nlohmann::json::parse("[]")).has_value());

        REQUIRE(write_file_atomic(paths.state(), "{\"services\": [").has_value());
        auto garbage = read_state(paths);
        REQUIRE_FALSE(garbage.has_value());
        CHECK(garbage.error().message().find(paths.state()) != std::string::npos);
        REQUIRE(write_file_atomic(paths.state(), R"({"config": 3})").has_value());
        auto wrong = read_state(paths);
        REQUIRE_FALSE(wrong.has_value());
        CHECK(wrong.error().message().find(paths.state()) != std::string::npos);
        CHECK(wrong.error().message().find("config") != std::string::npos);
    }
}
