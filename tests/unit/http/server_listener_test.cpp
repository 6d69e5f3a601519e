// Server: its listening socket replaced at the same path while connections
// go on, and a stop that closes the listener, idle connections and handlers.
#include <string>

#include "server_harness.hpp"

using namespace reins;
using namespace reins::test;

namespace {

// The socket file removed (its folder deleted): a new listener at the same
// path takes over; the connection already open is still served.
Task<void> replaced_listener_client(TestServer* ts) {
    Conn old = co_await connect(ts);
    co_await send(&old, get("/hello"));  // answered: accepted before the swap
    auto first = co_await next_response(&old);
    REQUIRE(first.has_value());
    const std::string path = ts->path();
    REQUIRE(::unlink(path.c_str()) == 0);
    auto nobody = co_await unix_connect(path);
    CHECK_FALSE(nobody.has_value());
    ts->server.replace_listener(listen_at(path));
    CHECK(ts->server.path() == path);
    Conn fresh = co_await connect(ts);
    for (Conn* c : {&fresh, &old}) {
        co_await send(c, get("/hello"));
        auto r = co_await next_response(c);
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
    }
}

Task<void> stop_client(TestServer* ts) {
    Conn conns[3];
    for (Conn& c : conns) {
        Conn fresh = co_await connect(ts);
        c = std::move(fresh);
        co_await send(&c, get("/hello"));
        auto r = co_await next_response(&c);
        REQUIRE(r.has_value());
    }
    Conn waiting = co_await connect(ts);  // a handler in progress sees the stop too
    co_await send(&waiting, get("/wait"));
    auto busy = [ts] { return ts->stats.calls == 1; };
    bool started = co_await eventually(busy);
    REQUIRE(started);
    auto t0 = Clock::now();
    ts->stop.request_stop();
    for (Conn& c : conns) {
        bool eof = co_await read_to_eof(&c, 2s);
        CHECK(eof);
    }
    auto answer = co_await next_response(&waiting, false, 2s);  // written even though stopping
    REQUIRE(answer.has_value());
    CHECK(answer->status == 503);
    CHECK(ts->stats.saw_stop);
    auto ended = [ts] { return ts->ended.has_value(); };
    bool done = co_await eventually(ended, 2s);
    CHECK(done);
    CHECK(Clock::now() - t0 < 1s);
    auto gone = co_await unix_connect(ts->path());  // the listener is closed and its file removed
    CHECK_FALSE(gone.has_value());
}

}  // namespace

TEST_SUITE("server") {
    TEST_CASE("replace_listener: a new socket at the path is served, open connections go on") {
        run_test([](std::stop_token) -> Task<void> {
            TestServer ts;
            co_await serve_while(&ts, replaced_listener_client(&ts));
        });
    }

    TEST_CASE("stop closes idle keep-alive connections and stops handlers promptly") {
        run_test([](std::stop_token) -> Task<void> {
            auto o = fast_options();
            o.head_timeout = 30s;  // only the stop can end them in time
            TestServer ts(o);
            co_await serve_while(&ts, stop_client(&ts));
        });
    }
}
