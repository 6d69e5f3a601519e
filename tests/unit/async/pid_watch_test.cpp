#include <doctest/doctest.h>

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <string>

#include "harness.hpp"
#include "reins/async/pid_watch.hpp"
#include "reins/async/process.hpp"
#include "reins/async/timer.hpp"

using namespace reins;
using namespace reins::test;

namespace {

// Everything the stream delivers until end of stream.
Task<std::string> read_all(Stream* s) {
    std::string out;
    for (;;) {
        auto r = co_await s->read();
        if (!r) break;
        out.append(*r);
    }
    co_return out;
}

// A shell that starts `job` in the background, prints its pid and waits for
// it (so the job stays the shell's child, not ours). The group guard of the
// caller kills both.
struct ShellWithJob {
    Process shell;
    int job = 0;
};

Task<ShellWithJob> start_job(std::string job) {
    ProcessOptions o;
    o.argv = {"/bin/sh", "-c", "(" + job + ") >/dev/null 2>&1 & echo $!; exec >&-; wait"};
    auto p = Process::spawn(std::move(o));
    REQUIRE(p.has_value());
    Stream out = p->take_stdout();
    std::string text = co_await read_all(&out);
    ShellWithJob s{std::move(*p), std::atoi(text.c_str())};
    co_return s;
}

Task<Result<std::optional<ExitStatus>>> wait_for(PidWatch* w) {
    auto r = co_await w->wait();
    co_return r;
}

Task<Result<void>> close_soon(PidWatch* w) {
    auto slept = co_await sleep(std::chrono::milliseconds(20));
    w->close();
    co_return slept;
}

}  // namespace

TEST_SUITE("pid_watch") {
    TEST_CASE("open refuses pids <= 1, missing pids and reins' own children") {
        run_test([](std::stop_token) -> Task<void> {
            auto w = PidWatch::open(1);
            REQUIRE_FALSE(w.has_value());
            CHECK(w.error().code == std::error_code(UV_EINVAL, libuv_category()));
            w = PidWatch::open(0x3ffffff0);  // above pid_max
            REQUIRE_FALSE(w.has_value());
            CHECK(w.error().code == std::error_code(UV_ESRCH, libuv_category()));
            CHECK(w.error().message().find("1073741808") != std::string::npos);

            ProcessOptions o;
            o.argv = {"/bin/sh", "-c", "sleep 5"};
            auto p = Process::spawn(std::move(o));
            REQUIRE(p.has_value());
            w = PidWatch::open(p->pid());
            REQUIRE_FALSE(w.has_value());
            CHECK(w.error().code == std::error_code(UV_EBUSY, libuv_category()));
            CHECK(Loop::current().owns_child(p->pid()));  // the Process's claim is untouched
            CHECK(p->signal(SIGKILL).has_value());
            auto st = co_await p->wait();
            CHECK(st.has_value());
        });
    }

    TEST_CASE("the exit of a process that is not our child: seen, with no status") {
        run_test([](std::stop_token) -> Task<void> {
            auto s = co_await start_job("sleep 0.3; exit 3");
            REQUIRE(s.job > 1);
            auto w = PidWatch::open(s.job);
            REQUIRE_MESSAGE(w.has_value(), (w ? std::string() : w.error().message()));
            CHECK_FALSE(w->exited());
            auto ended = co_await w->wait();
            REQUIRE(ended.has_value());
            CHECK_FALSE(ended->has_value());  // the shell reaps it, not us
            CHECK(w->exited());
            auto again = co_await w->wait();  // at once, the same answer
            REQUIRE(again.has_value());
            CHECK_FALSE(again->has_value());
            auto st = co_await s.shell.wait();
            REQUIRE(st.has_value());
            CHECK(st->code == 0);
        });
    }

    TEST_CASE("a stop cancels the wait; the watch can be awaited again") {
        run_test([](std::stop_token) -> Task<void> {
            auto s = co_await start_job("sleep 0.5");
            REQUIRE(s.job > 1);
            auto w = PidWatch::open(s.job);
            REQUIRE(w.has_value());
            std::stop_source src;
            src.request_stop();
            auto r = co_await w->wait(src.get_token());
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().is(Errc::cancelled));
            auto quick = [&w](std::stop_token t) { return w->wait(std::move(t)); };
            auto timed = co_await with_timeout(std::chrono::milliseconds(20), {}, quick);
            REQUIRE_FALSE(timed.has_value());
            CHECK(timed.error().is(Errc::timeout));
            auto ended = co_await w->wait();
            CHECK(ended.has_value());
            auto st = co_await s.shell.wait();
            CHECK(st.has_value());
        });
    }

    TEST_CASE("closing the watch while it is awaited completes the wait with cancelled") {
        run_test([](std::stop_token) -> Task<void> {
            auto s = co_await start_job("exec sleep 5");
            REQUIRE(s.job > 1);
            auto w = PidWatch::open(s.job);
            REQUIRE(w.has_value());
            auto both = co_await when_all(wait_for(&*w), close_soon(&*w));
            auto& r = std::get<0>(both);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().is(Errc::cancelled));
            CHECK_FALSE(static_cast<bool>(*w));
            CHECK(::kill(s.job, SIGKILL) == 0);
            auto st = co_await s.shell.wait();
            CHECK(st.has_value());
        });
    }
}
