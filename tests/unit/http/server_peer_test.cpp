// Server: the peer's credentials, as handlers see them and as the
// allow_peer predicate judges them.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "server_harness.hpp"

using namespace reins;
using namespace reins::test;

namespace {

Task<void> whoami_client(TestServer* ts) {
    Conn c = co_await connect(ts);
    co_await send(&c, get("/whoami"));
    auto r = co_await next_response(&c);
    REQUIRE(r.has_value());
    auto j = nlohmann::json::parse(r->body);
    CHECK(j["pid"] == ::getpid());
    CHECK(j["uid"] == ::getuid());
    CHECK(j["gid"] == ::getgid());
}

Task<void> refused_peer_client(TestServer* ts) { co_await expect_refusal(ts, get("/count"), 403); }

}  // namespace

TEST_SUITE("server") {
    TEST_CASE("peer credentials carry our pid, uid and gid; allow_owner_and_root lets us in") {
        run_test([](std::stop_token) -> Task<void> {
            auto o = fast_options();
            o.allow_peer = http::allow_owner_and_root();
            TestServer ts(o);
            co_await serve_while(&ts, whoami_client(&ts));
        });
    }

    TEST_CASE("a peer the predicate refuses gets 403 and is closed") {
        run_test([](std::stop_token) -> Task<void> {
            auto o = fast_options();
            o.allow_peer = [](const PeerCredentials& p) { return p.uid != ::getuid(); };
            TestServer ts(o);
            co_await serve_while(&ts, refused_peer_client(&ts));
        });
    }
}
