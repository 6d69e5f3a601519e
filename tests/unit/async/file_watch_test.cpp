#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <memory>
#include <string>
#include <unistd.h>

#include "harness.hpp"
#include "reins/async/file_watch.hpp"
#include "temp_dir.hpp"

using namespace reins;
using namespace reins::test;

namespace {

void append(const std::string& path, const std::string& text) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    CHECK(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    ::close(fd);
}

Task<void> await_change(FileWatch* w, std::stop_token stop, Result<void>* out) {
    auto r = co_await w->changed(std::move(stop));
    *out = std::move(r);
}

}  // namespace

TEST_SUITE("file_watch") {
    TEST_CASE("watching a missing path fails and names it") {
        run_test([](std::stop_token) -> Task<void> {
            auto w = FileWatch::watch("/nonexistent/reins/dir");
            CHECK_FALSE(w.has_value());
            if (!w) CHECK(w.error().message().find("/nonexistent/reins/dir") != std::string::npos);
            co_return;
        });
    }

    TEST_CASE("an append to a watched file completes changed()") {
        run_test([](std::stop_token stop) -> Task<void> {
            TempDir tmp("watch");
            std::string file = tmp.path + "/a.log";
            append(file, "first\n");
            auto w = FileWatch::watch(file);
            CHECK(w.has_value());
            if (!w) co_return;
            Result<void> got = fail(Errc::timeout, "not completed");
            TaskScope scope(stop);
            scope.spawn(await_change(&*w, scope.token(), &got));
            co_await sleep(20ms);
            CHECK_FALSE(got.has_value());  // nothing written yet: still waiting
            append(file, "second\n");
            co_await scope.join();
            CHECK(got.has_value());
        });
    }

    TEST_CASE("a rename in a watched folder completes changed(); other entries are ignored") {
        run_test([](std::stop_token stop) -> Task<void> {
            TempDir tmp("watch");
            append(tmp.path + "/a.log", "x\n");
            auto w = FileWatch::watch(tmp.path, "a.log");
            CHECK(w.has_value());
            if (!w) co_return;
            FileWatch* watch = &*w;
            auto wait = [watch](std::stop_token s) { return watch->changed(std::move(s)); };

            append(tmp.path + "/b.log", "not ours\n");
            auto ignored = co_await with_timeout(150ms, stop, wait);
            CHECK_MESSAGE(!ignored.has_value(), "woken by an entry it does not watch");
            if (!ignored) CHECK(ignored.error().is(Errc::timeout));

            Result<void> got = fail(Errc::timeout, "not completed");
            TaskScope scope(stop);
            scope.spawn(await_change(watch, scope.token(), &got));
            co_await sleep(20ms);
            std::string from = tmp.path + "/a.log", to = tmp.path + "/a.log.1";
            CHECK(::rename(from.c_str(), to.c_str()) == 0);
            co_await scope.join();
            CHECK(got.has_value());

            // Drain what the rename queued, then a new a.log is seen too.
            co_await sleep(20ms);
            auto drained = co_await with_timeout(50ms, stop, wait);
            (void)drained;
            append(tmp.path + "/a.log", "new file\n");
            auto created = co_await with_timeout(2000ms, stop, wait);
            CHECK(created.has_value());
        });
    }

    TEST_CASE("changes while nobody awaits are kept as one pending change") {
        run_test([](std::stop_token stop) -> Task<void> {
            TempDir tmp("watch");
            std::string file = tmp.path + "/a.log";
            append(file, "");
            auto w = FileWatch::watch(file);
            CHECK(w.has_value());
            if (!w) co_return;
            append(file, "one\n");
            append(file, "two\n");
            co_await sleep(30ms);  // the loop reads the inotify events now
            FileWatch* watch = &*w;
            auto wait = [watch](std::stop_token s) { return watch->changed(std::move(s)); };
            auto first = co_await with_timeout(10ms, stop, wait);
            CHECK(first.has_value());
            auto second = co_await with_timeout(150ms, stop, wait);
            CHECK_FALSE(second.has_value());  // coalesced into the first
            if (!second) CHECK(second.error().is(Errc::timeout));
        });
    }

    TEST_CASE("a watch that sees no change does not wake") {
        run_test([](std::stop_token stop) -> Task<void> {
            TempDir tmp("watch");
            auto w = FileWatch::watch(tmp.path);
            CHECK(w.has_value());
            if (!w) co_return;
            FileWatch* watch = &*w;
            auto wait = [watch](std::stop_token s) { return watch->changed(std::move(s)); };
            auto r = co_await with_timeout(300ms, stop, wait);
            CHECK_FALSE(r.has_value());
            if (!r) CHECK(r.error().is(Errc::timeout));
        });
    }

    TEST_CASE("a stopped changed() completes with cancelled, promptly") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir tmp("watch");
            auto w = FileWatch::watch(tmp.path);
            CHECK(w.has_value());
            if (!w) co_return;
            std::stop_source src;
            Result<void> got;
            TaskScope scope = TaskScope::shielded();
            scope.spawn(await_change(&*w, src.get_token(), &got));
            co_await sleep(10ms);
            src.request_stop();
            co_await scope.join();
            CHECK_FALSE(got.has_value());
            if (!got) CHECK(got.error().is(Errc::cancelled));
            // The watch is still usable after a cancelled wait.
            append(tmp.path + "/later", "x");
            auto again = co_await w->changed();
            CHECK(again.has_value());
        });
    }

    TEST_CASE("a changed() whose token is already stopped does not wait") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir tmp("watch");
            auto w = FileWatch::watch(tmp.path);
            CHECK(w.has_value());
            if (!w) co_return;
            std::stop_source src;
            src.request_stop();
            auto r = co_await w->changed(src.get_token());
            CHECK_FALSE(r.has_value());
            if (!r) CHECK(r.error().is(Errc::cancelled));
        });
    }

    TEST_CASE("destroying a FileWatch while it is awaited cancels the waiter") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir tmp("watch");
            auto made = FileWatch::watch(tmp.path);
            CHECK(made.has_value());
            if (!made) co_return;
            auto w = std::make_unique<FileWatch>(std::move(*made));
            Result<void> got;
            TaskScope scope = TaskScope::shielded();
            scope.spawn(await_change(w.get(), {}, &got));
            co_await sleep(10ms);
            w.reset();
            co_await scope.join();
            CHECK_FALSE(got.has_value());
            if (!got) CHECK(got.error().is(Errc::cancelled));
        });
    }

    TEST_CASE("a watch left alive at the end lets the loop close cleanly") {
        // run_test fails when uv_loop_close finds a handle still open.
        TempDir tmp("watch");
        Loop loop;
        auto body = [](std::string dir) -> Task<int> {
            auto w = FileWatch::watch(dir);
            if (!w) co_return 1;
            append(dir + "/x", "x");
            co_await sleep(10ms);  // a pending change nobody takes
            co_return 0;
        };
        int rc = loop.run(body(tmp.path));
        CHECK(rc == 0);
        auto closed = loop.close();
        CHECK_MESSAGE(closed.has_value(), (closed ? std::string() : closed.error().message()));
    }

    TEST_CASE("a watch nobody awaits does not keep the loop alive") {
        TempDir tmp("watch");
        Loop loop;
        {
            auto w = FileWatch::watch(tmp.path);
            REQUIRE(w);
            // An unrelated wait that can never finish must be reported as a
            // deadlock, not hidden by the idle watch's handle.
            auto stuck = []() -> Task<void> {
                Channel<int> ch(1);
                (void)co_await ch.recv();
            };
            CHECK_THROWS_AS(loop.run(stuck()), Deadlock);
            // Move-assigning releases the old watch; its handle closes with the loop.
            auto other = FileWatch::watch(tmp.path);
            REQUIRE(other);
            *w = std::move(*other);
            CHECK(w->path() == tmp.path);
        }
        auto closed = loop.close();
        CHECK_MESSAGE(closed.has_value(), (closed ? std::string() : closed.error().message()));
    }
}
