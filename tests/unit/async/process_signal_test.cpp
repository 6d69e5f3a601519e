// Process signals: a child killed by one, its session and process group,
// signal_group reaching a grandchild, and signals after the exit.
#include <sys/types.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <string>

#include "harness.hpp"
#include "process_harness.hpp"
#include "reins/async/process.hpp"

using namespace reins;
using namespace reins::test;

namespace {

// Reads until the first newline (the line without it).
Task<std::string> read_line(Stream* s) {
    std::string out;
    while (out.find('\n') == std::string::npos) {
        auto r = co_await s->read();
        if (!r) break;
        out.append(*r);
    }
    co_return out.substr(0, out.find('\n'));
}

// The process is gone or a zombie (dead; whoever its parent is reaps it).
bool dead(int pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (!std::getline(f, stat)) return true;
    auto paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

}  // namespace

TEST_SUITE("process") {
    TEST_CASE("a child killed by a signal reports the signal") {
        run_test([](std::stop_token) -> Task<void> {
            auto p = Process::spawn(cmd({"/bin/sleep", "100"}));
            REQUIRE(p.has_value());
            GroupGuard guard(p->pid());
            CHECK_FALSE(p->exited());
            auto s = p->signal(SIGTERM);
            CHECK(s.has_value());
            auto r = co_await p->wait();
            REQUIRE(r.has_value());
            CHECK(r->signal == SIGTERM);
            CHECK(r->code == 0);
            CHECK(r->shell_code() == 128 + SIGTERM);
            CHECK_FALSE(r->success());
        });
    }

    TEST_CASE("a new_session child leads its own session and process group") {
        run_test([](std::stop_token) -> Task<void> {
            auto p = Process::spawn(cmd({"/bin/sleep", "100"}));
            REQUIRE(p.has_value());
            GroupGuard guard(p->pid());
            // spawn() returns after the exec, so setsid() has happened.
            CHECK(::getpgid(p->pid()) == p->pid());
            CHECK(::getsid(p->pid()) == p->pid());
            CHECK(::getsid(p->pid()) != ::getsid(0));
            auto s = p->signal_group(SIGKILL);
            CHECK(s.has_value());
            auto r = co_await p->wait();
            REQUIRE(r.has_value());
            CHECK(r->signal == SIGKILL);
        });
    }

    TEST_CASE("without new_session the child shares reins' group; signal_group is refused") {
        run_test([](std::stop_token) -> Task<void> {
            auto o = cmd({"/bin/sleep", "100"});
            o.new_session = false;
            auto p = Process::spawn(std::move(o));
            REQUIRE(p.has_value());
            // No GroupGuard: the group is ours. ~Process kills the pid.
            CHECK(::getpgid(p->pid()) == ::getpgid(0));
            auto s = p->signal_group(SIGTERM);
            REQUIRE_FALSE(s.has_value());
            CHECK(has_code(s.error(), UV_EINVAL));
            auto k = p->signal(SIGKILL);
            CHECK(k.has_value());
            auto r = co_await p->wait();
            REQUIRE(r.has_value());
            CHECK(r->signal == SIGKILL);
        });
    }

    TEST_CASE("signal_group reaches a grandchild in the child's group") {
        run_test([](std::stop_token) -> Task<void> {
            auto p = Process::spawn(sh("/bin/sleep 100 & echo $!; wait"));
            REQUIRE(p.has_value());
            GroupGuard guard(p->pid());
            Stream out = p->take_stdout();
            auto line = co_await read_line(&out);
            int grandchild = std::atoi(line.c_str());
            REQUIRE(grandchild > 1);
            CHECK(::getpgid(grandchild) == p->pid());
            auto s = p->signal_group(SIGTERM);
            CHECK(s.has_value());
            auto r = co_await p->wait();
            REQUIRE(r.has_value());
            CHECK(r->signal == SIGTERM);
            // The grandchild was reparented; its new parent reaps it in time.
            for (int i = 0; i < 500 && !dead(grandchild); ++i) (void)co_await sleep(10ms);
            CHECK(dead(grandchild));
        });
    }

    TEST_CASE("signal after the exit fails with exited and sends nothing") {
        run_test([](std::stop_token) -> Task<void> {
            auto p = Process::spawn(cmd({"/bin/true"}));
            REQUIRE(p.has_value());
            GroupGuard guard(p->pid());
            auto alive = p->signal(0);  // a zombie or a live child: either is ours
            CHECK(alive.has_value());
            auto r = co_await p->wait();
            REQUIRE(r.has_value());
            auto s = p->signal(SIGTERM);
            REQUIRE_FALSE(s.has_value());
            CHECK(s.error().is(Errc::exited));
            CHECK(s.error().context.find(std::to_string(p->pid())) != std::string::npos);
            // The group is empty now.
            auto g = p->signal_group(0);
            REQUIRE_FALSE(g.has_value());
            CHECK(has_code(g.error(), UV_ESRCH));
        });
    }
}
