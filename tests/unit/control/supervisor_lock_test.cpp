// reins.lock: the state directory created 0700, who holds the lock and
// their data, another process kept out until the holder is gone, relock.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "reins/control/supervisor_lock.hpp"
#include "state_dir_harness.hpp"
#include "temp_dir.hpp"

using namespace reins;
using namespace reins::control;
using namespace reins::test;

TEST_SUITE("state") {
    TEST_CASE("the lock creates the state dir 0700 and writes who holds it") {
        TempDir tmp("state");
        StatePaths paths{tmp.path + "/a/b/.reins"};
        auto lock = SupervisorLock::acquire(paths, "9.8.7");
        REQUIRE_MESSAGE(lock.has_value(), lock.error().message());
        CHECK(mode_of(paths.dir) == 0700);
        CHECK(mode_of(paths.lock()) == 0600);
        CHECK(slurp(paths.pid()) == std::to_string(::getpid()) + "\n");
        auto j = nlohmann::json::parse(slurp(paths.lock()));
        CHECK(j["pid"] == ::getpid());
        CHECK(j["start_time"] == own_start_time());
        CHECK(j["version"] == "9.8.7");
        std::string at = j["started_at"];
        CHECK(at.size() == 24);
        CHECK(at.back() == 'Z');
        CHECK(at[10] == 'T');

        // Another open file description of the same process conflicts too.
        LockInfo holder;
        auto second = SupervisorLock::acquire(paths, "9.8.7", &holder);
        REQUIRE_FALSE(second.has_value());
        CHECK(second.error().code == LockErrc::busy);
        CHECK(holder.pid == ::getpid());
        CHECK(second.error().context == "another supervisor (pid " + std::to_string(::getpid()) + ") is running on " +
                                            paths.dir + " (lock " + paths.lock() + ")");
        auto state = inspect_lock(paths);
        CHECK(state.exists);
        CHECK(state.held);
        REQUIRE(state.info.has_value());
        CHECK(state.info->pid == ::getpid());

        lock->release();
        CHECK_FALSE(exists(paths.pid()));
        CHECK(exists(paths.lock()));  // never removed: see supervisor_lock.hpp
        state = inspect_lock(paths);
        CHECK(state.exists);
        CHECK_FALSE(state.held);
        auto again = SupervisorLock::acquire(paths, "9.8.7");
        REQUIRE(again.has_value());
        CHECK(again->held());
    }

    TEST_CASE("looser modes of an existing dir and lock file are tightened") {
        TempDir tmp("state");
        StatePaths paths{tmp.path + "/.reins"};
        REQUIRE(::mkdir(paths.dir.c_str(), 0755) == 0);
        REQUIRE(::chmod(paths.dir.c_str(), 0755) == 0);
        { std::ofstream(paths.lock()) << "not json"; }
        REQUIRE(::chmod(paths.lock().c_str(), 0644) == 0);
        auto before = inspect_lock(paths);
        CHECK(before.exists);
        CHECK_FALSE(before.held);
        CHECK_FALSE(before.info.has_value());
        auto lock = SupervisorLock::acquire(paths, "1");
        REQUIRE(lock.has_value());
        CHECK(mode_of(paths.dir) == 0700);
        CHECK(mode_of(paths.lock()) == 0600);
        CHECK(inspect_lock(paths).info->pid == ::getpid());
        CHECK_FALSE(inspect_lock(StatePaths{tmp.path + "/none"}).exists);
    }

    TEST_CASE("another process cannot take the lock, and takes it over once the holder was killed") {
        TempDir tmp("state");
        StatePaths paths{tmp.path + "/.reins"};
        {
            auto lock = SupervisorLock::acquire(paths, "1");
            REQUIRE(lock.has_value());
            Child c;
            c.pid = ::fork();
            REQUIRE(c.pid >= 0);
            if (c.pid == 0) {
                LockInfo holder;
                auto r = SupervisorLock::acquire(paths, "1", &holder);
                ::_exit(!r && r.error().code == LockErrc::busy && holder.pid == ::getppid() ? 0 : 1);
            }
            int st = c.wait();
            CHECK(WIFEXITED(st));
            CHECK(WEXITSTATUS(st) == 0);
        }

        // A child holds it (and dies by SIGKILL, leaving its files behind).
        int ready[2];
        REQUIRE(::pipe2(ready, O_CLOEXEC) == 0);
        Child c;
        c.pid = ::fork();
        REQUIRE(c.pid >= 0);
        if (c.pid == 0) {
            auto r = SupervisorLock::acquire(paths, "child");
            char b = r ? 'y' : 'n';
            if (::write(ready[1], &b, 1) != 1) ::_exit(1);
            for (;;) ::pause();
        }
        ::close(ready[1]);
        char b = 0;
        REQUIRE(::read(ready[0], &b, 1) == 1);
        ::close(ready[0]);
        REQUIRE(b == 'y');
        LockInfo holder;
        auto busy = SupervisorLock::acquire(paths, "1", &holder);
        REQUIRE_FALSE(busy.has_value());
        CHECK(busy.error().code == LockErrc::busy);
        CHECK(holder.pid == c.pid);
        CHECK(holder.version == "child");
        CHECK(busy.error().message().find("(pid " + std::to_string(c.pid) + ")") != std::string::npos);
        CHECK(inspect_lock(paths).held);

        ::kill(c.pid, SIGKILL);
        c.wait();
        auto stale = inspect_lock(paths);
        CHECK(stale.exists);
        CHECK_FALSE(stale.held);
        auto lock = SupervisorLock::acquire(paths, "1");
        REQUIRE_MESSAGE(lock.has_value(), lock.error().message());
        CHECK(lock->info().pid == ::getpid());
        CHECK(slurp(paths.pid()) == std::to_string(::getpid()) + "\n");
    }

    TEST_CASE("relock: the state dir removed under the holder is created and locked again") {
        TempDir tmp("state");
        StatePaths paths{tmp.path + "/.reins"};
        auto lock = SupervisorLock::acquire(paths, "1");
        REQUIRE(lock.has_value());
        const LockInfo before = lock->info();
        std::filesystem::remove_all(paths.dir);
        CHECK_FALSE(inspect_lock(paths).exists);
        auto again = lock->relock();
        REQUIRE_MESSAGE(again.has_value(), again.error().message());
        CHECK(mode_of(paths.dir) == 0700);
        CHECK(mode_of(paths.lock()) == 0600);
        CHECK(slurp(paths.pid()) == std::to_string(::getpid()) + "\n");
        auto state = inspect_lock(paths);
        CHECK(state.held);
        REQUIRE(state.info.has_value());
        CHECK(state.info->pid == before.pid);
        CHECK(state.info->started_at == before.started_at);  // the same supervisor, not a new one

        // Moved away: the new folder is locked, the moved one let go.
        const std::string moved = tmp.path + "/moved";
        REQUIRE(::rename(paths.dir.c_str(), moved.c_str()) == 0);
        REQUIRE(lock->relock().has_value());
        CHECK(inspect_lock(paths).held);
        CHECK_FALSE(inspect_lock(StatePaths{moved}).held);

        // Taken by another holder first: busy, naming it; ours is kept.
        std::filesystem::remove_all(paths.dir);
        auto other = SupervisorLock::acquire(paths, "2");  // another open file description conflicts like a process
        REQUIRE(other.has_value());
        LockInfo holder;
        auto busy = lock->relock(&holder);
        REQUIRE_FALSE(busy.has_value());
        CHECK(busy.error().code == LockErrc::busy);
        CHECK(holder.version == "2");
        CHECK(lock->held());
        // Abandoning ours leaves the other holder's reins.pid and lock alone.
        lock->abandon();
        CHECK_FALSE(lock->held());
        CHECK(exists(paths.pid()));
        CHECK(inspect_lock(paths).held);
        lock->release();  // a no-op now
        CHECK(exists(paths.pid()));
    }

    TEST_CASE("the lock carries the holder's own data, read back by whoever finds it busy") {
        TempDir tmp("state");
        StatePaths paths{tmp.path + "/.reins"};
        {
            auto plain = SupervisorLock::acquire(paths, "1.0");
            REQUIRE_MESSAGE(plain.has_value(), plain.error().message());
            auto j = nlohmann::json::parse(slurp(paths.lock()));
            CHECK_FALSE(j.contains("data"));  // omitted when empty
            CHECK_FALSE(plain->previous().has_value());  // a new lock file said nothing
        }
        auto lock = SupervisorLock::acquire(paths, "1.0", nullptr, "port 8123");
        REQUIRE_MESSAGE(lock.has_value(), lock.error().message());
        CHECK(lock->info().data == "port 8123");
        auto j = nlohmann::json::parse(slurp(paths.lock()));
        CHECK(j["data"] == "port 8123");
        // What the file said before: the previous holder (this process, released).
        REQUIRE(lock->previous().has_value());
        CHECK(lock->previous()->pid == ::getpid());
        CHECK(lock->previous()->data.empty());

        LockInfo holder;
        auto busy = SupervisorLock::acquire(paths, "1.0", &holder, "port 9999");
        REQUIRE_FALSE(busy.has_value());
        CHECK(busy.error().code == LockErrc::busy);
        CHECK(holder.pid == ::getpid());
        CHECK(holder.data == "port 8123");
        auto state = inspect_lock(paths);
        REQUIRE(state.info.has_value());
        CHECK(state.info->data == "port 8123");
        CHECK(nlohmann::json::parse(slurp(paths.lock()))["data"] == "port 8123");  // the loser wrote nothing
    }
}
