#include <doctest/doctest.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <string>

#include "reins/supervisor/instance_id.hpp"

using namespace reins::supervisor;

TEST_SUITE("instance_id") {
    TEST_CASE("an id names its service and the supervisor process that made it") {
        auto st = process_start_time(::getpid());
        REQUIRE(st.has_value());
        const std::string tag = supervisor_tag(::getpid(), *st);
        CHECK(tag == "." + std::to_string(::getpid()) + "." + std::to_string(*st) + ".");
        std::string a = new_instance_id("web.v2");
        std::string b = new_instance_id("web.v2");
        CHECK(a != b);  // unique to each start
        CHECK(a.rfind("web.v2" + tag, 0) == 0);
    }

    TEST_CASE("a process carrying a supervisor's tag is found again, with its service") {
        const std::string tag = supervisor_tag(424242, 77);  // a supervisor long gone
        std::string env_entry = "REINS_INSTANCE=api.x" + tag + "3";
        std::string other = "REINS_INSTANCE=api" + supervisor_tag(424242, 78) + "3";  // another supervisor
        char* argv[] = {const_cast<char*>("sleep"), const_cast<char*>("30"), nullptr};
        char* env1[] = {env_entry.data(), nullptr};
        char* env2[] = {other.data(), nullptr};
        pid_t mine = 0, stranger = 0;
        REQUIRE(::posix_spawn(&mine, "/bin/sleep", nullptr, nullptr, argv, env1) == 0);
        REQUIRE(::posix_spawn(&stranger, "/bin/sleep", nullptr, nullptr, argv, env2) == 0);
        auto found = find_tagged_processes(tag);
        ::kill(mine, SIGKILL);
        ::kill(stranger, SIGKILL);
        ::waitpid(mine, nullptr, 0);
        ::waitpid(stranger, nullptr, 0);
        REQUIRE(found.size() == 1);
        CHECK(found[0].process.pid == mine);
        CHECK(found[0].service == "api.x");
        CHECK(found[0].instance == "api.x" + tag + "3");
        CHECK(find_tagged_processes("").empty());
    }
}
