#include <string>
#include <vector>

#include "harness.hpp"

using namespace reins;
using namespace reins::test;

namespace {
Task<void> produce(Channel<int>* ch, int n, bool close_after) {
    for (int i = 0; i < n; ++i) {
        auto r = co_await ch->send(i);
        CHECK(r.has_value());
    }
    if (close_after) ch->close();
}
Task<void> consume(Channel<int>* ch, std::vector<int>* out) {
    for (;;) {
        auto v = co_await ch->recv();
        if (!v) {
            CHECK(v.error().is(Errc::channel_closed));
            break;
        }
        out->push_back(*v);
    }
}
}  // namespace

TEST_SUITE("channel") {
    TEST_CASE("values arrive in order through a small buffer") {
        run_test([](std::stop_token) -> Task<void> {
            Channel<int> ch(2);
            std::vector<int> got;
            TaskScope scope = TaskScope::shielded();
            scope.spawn(consume(&ch, &got));
            scope.spawn(produce(&ch, 100, true));
            co_await scope.join();
            REQUIRE(got.size() == 100);
            for (int i = 0; i < 100; ++i) CHECK(got[static_cast<size_t>(i)] == i);
        });
    }

    TEST_CASE("a full channel makes the sender wait (backpressure)") {
        run_test([](std::stop_token) -> Task<void> {
            Channel<int> ch(1);
            int sent = 0;
            auto sender = [](Channel<int>* c, int* count) -> Task<void> {
                for (int i = 0; i < 3; ++i) {
                    auto r = co_await c->send(i);
                    if (!r) co_return;
                    ++*count;
                }
            };
            TaskScope scope = TaskScope::shielded();
            scope.spawn(sender(&ch, &sent));
            co_await sleep(5ms);
            CHECK(sent == 1);  // one buffered, the second send waits
            CHECK(ch.size() == 1);
            auto a = co_await ch.recv();
            CHECK(*a == 0);
            co_await sleep(5ms);
            CHECK(sent == 2);
            ch.close();
            co_await scope.join();
            CHECK(sent == 2);  // the waiting third send failed with closed
        });
    }

    TEST_CASE("close drains buffered values to receivers, then reports closed") {
        run_test([](std::stop_token) -> Task<void> {
            Channel<std::string> ch(4);
            CHECK(ch.try_send("a"));
            CHECK(ch.try_send("b"));
            ch.close();
            CHECK_FALSE(ch.try_send("c"));
            auto s = co_await ch.send("d");
            CHECK(s.error().is(Errc::channel_closed));
            auto a = co_await ch.recv();
            auto b = co_await ch.recv();
            auto c = co_await ch.recv();
            CHECK(*a == "a");
            CHECK(*b == "b");
            CHECK(c.error().is(Errc::channel_closed));
        });
    }

    TEST_CASE("close wakes every waiting receiver") {
        run_test([](std::stop_token) -> Task<void> {
            Channel<int> ch(1);
            std::vector<int> a, b;
            TaskScope scope = TaskScope::shielded();
            scope.spawn(consume(&ch, &a));
            scope.spawn(consume(&ch, &b));
            co_await sleep(2ms);
            ch.close();
            co_await scope.join();
            CHECK(a.empty());
            CHECK(b.empty());
        });
    }

    TEST_CASE("try_send fails when full, never blocks") {
        Loop loop;
        Channel<int> ch(2);
        CHECK(ch.try_send(1));
        CHECK(ch.try_send(2));
        CHECK_FALSE(ch.try_send(3));
        CHECK(ch.try_recv() == 1);
        CHECK(ch.try_send(3));
        REQUIRE(loop.close());
    }

    TEST_CASE("a cancelled receive leaves the channel usable") {
        run_test([](std::stop_token) -> Task<void> {
            Channel<int> ch(1);
            std::stop_source src;
            Result<int> got = fail(Errc::timeout);
            auto receiver = [](Channel<int>* c, std::stop_token s, Result<int>* out) -> Task<void> {
                *out = co_await c->recv(std::move(s));
            };
            TaskScope scope = TaskScope::shielded();
            scope.spawn(receiver(&ch, src.get_token(), &got));
            co_await sleep(2ms);
            src.request_stop();
            co_await scope.join();
            CHECK(got.error().is(Errc::cancelled));
            CHECK(ch.try_send(7));  // not handed to the cancelled receiver
            auto v = co_await ch.recv();
            CHECK(*v == 7);
        });
    }

    TEST_CASE("a waiting sender whose frame is dropped unlinks itself") {
        Loop loop;
        {
            Channel<int> ch(1);
            CHECK(ch.try_send(1));
            {
                auto sender = [](Channel<int>* c) -> Task<void> { (void)co_await c->send(2); };
                auto t = sender(&ch);
                loop.schedule(t.handle());
                loop.run([]() -> Task<void> { co_return; }());
                CHECK_FALSE(t.done());
            }  // frame destroyed while linked in the channel
            CHECK(ch.try_recv() == 1);
            CHECK_FALSE(ch.try_recv().has_value());  // the dropped value never arrives
        }
        REQUIRE(loop.close());
    }

    TEST_CASE("200 000 hand-offs between two tasks") {
        run_test([](std::stop_token) -> Task<void> {
            Channel<int> ch(16);
            std::vector<int> got;
            got.reserve(200000);
            TaskScope scope = TaskScope::shielded();
            scope.spawn(consume(&ch, &got));
            scope.spawn(produce(&ch, 200000, true));
            co_await scope.join();
            CHECK(got.size() == 200000);
            CHECK(got.back() == 199999);
        }, 60s);
    }
}
