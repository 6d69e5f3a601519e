// DatagramSocket::receive: the queue of datagrams nobody received yet,
// backpressure, and the stop / owner-destroyed / frame-dropped paths.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "datagram_harness.hpp"
#include "harness.hpp"
#include "reins/async/datagram.hpp"
#include "temp_dir.hpp"

using namespace reins;
using namespace reins::test;
using Clock = std::chrono::steady_clock;

namespace {

std::size_t open_fds() {
    std::size_t n = 0;
    for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

}  // namespace

TEST_SUITE("datagram") {
    TEST_CASE("datagrams that arrive before receive() are queued and received in order") {
        run_test([](std::stop_token) -> Task<void> {
            std::string name = abstract_name();
            auto sock = DatagramSocket::bind(name);
            REQUIRE(sock);
            // Fewer than the kernel's default max_dgram_qlen (10).
            for (int i = 0; i < 8; ++i) {
                auto s = DatagramSocket::send_to(name, "m" + std::to_string(i));
                REQUIRE(s);
            }
            (void)co_await sleep(20ms);  // one readiness, several datagrams, nobody receiving
            CHECK(sock->queued() == 8);
            for (int i = 0; i < 8; ++i) {
                auto r = co_await recv_within(&*sock);
                REQUIRE(r);
                CHECK(r->data == "m" + std::to_string(i));
            }
            CHECK(sock->queued() == 0);
        });
    }

    TEST_CASE("a full queue stops reading; senders see backpressure and nothing is lost") {
        run_test([](std::stop_token) -> Task<void> {
            std::string name = abstract_name();
            auto sock = DatagramSocket::bind(name);
            REQUIRE(sock);
            int sent = 0;
            for (int i = 0; i < 5000; ++i) {
                auto s = DatagramSocket::send_to(name, "m" + std::to_string(sent));
                if (!s) {
                    CHECK(s.error().code.value() == UV_EAGAIN);
                    break;
                }
                ++sent;
                if (sent % 4 == 0) (void)co_await sleep(1ms);  // let the socket drain
            }
            CHECK(sock->queued() == DatagramSocket::queue_capacity);
            CHECK(sent > static_cast<int>(DatagramSocket::queue_capacity));
            for (int i = 0; i < sent; ++i) {
                auto r = co_await recv_within(&*sock);
                REQUIRE(r);
                CHECK(r->data == "m" + std::to_string(i));
            }
            auto none = co_await recv_within(&*sock, 50ms);
            CHECK(none.error().is(Errc::timeout));
            CHECK(sock->dropped() == 0);
        });
    }

    TEST_CASE("a stopped receive completes with cancelled; the socket stays usable") {
        run_test([](std::stop_token) -> Task<void> {
            std::string name = abstract_name();
            auto sock = DatagramSocket::bind(name);
            REQUIRE(sock);
            std::stop_source src;
            Result<Datagram> got = fail(Errc::timeout);
            auto receiver = [](DatagramSocket* s, std::stop_token st, Result<Datagram>* out) -> Task<void> {
                *out = co_await s->receive(std::move(st));
            };
            TaskScope scope = TaskScope::shielded();
            auto t0 = Clock::now();
            scope.spawn(receiver(&*sock, src.get_token(), &got));
            (void)co_await sleep(10ms);
            src.request_stop();
            co_await scope.join();
            REQUIRE_FALSE(got);
            CHECK(got.error().is(Errc::cancelled));
            CHECK(Clock::now() - t0 < 2s);

            auto s = DatagramSocket::send_to(name, "STOPPING=1");
            REQUIRE(s);
            auto r = co_await recv_within(&*sock);
            REQUIRE(r);
            CHECK(r->data == "STOPPING=1");
        });
    }

    TEST_CASE("a receive whose token is already stopped does not wait, even with data queued") {
        run_test([](std::stop_token) -> Task<void> {
            std::string name = abstract_name();
            auto sock = DatagramSocket::bind(name);
            REQUIRE(sock);
            auto s = DatagramSocket::send_to(name, "x");
            REQUIRE(s);
            std::stop_source src;
            src.request_stop();
            auto r = co_await sock->receive(src.get_token());
            CHECK(r.error().is(Errc::cancelled));
            auto x = co_await recv_within(&*sock);  // still there for the next receive
            REQUIRE(x);
            CHECK(x->data == "x");
        });
    }

    TEST_CASE("destroying the socket while a receive is pending cancels it and unlinks the path") {
        run_test([](std::stop_token) -> Task<void> {
            TempDir dir("dgram");
            std::string path = dir / "drop.sock";
            auto bound = DatagramSocket::bind(path);
            REQUIRE(bound);
            auto sock = std::make_unique<DatagramSocket>(std::move(*bound));
            Result<Datagram> got = fail(Errc::timeout);
            auto receiver = [](DatagramSocket* s, Result<Datagram>* out) -> Task<void> {
                *out = co_await s->receive();
            };
            TaskScope scope = TaskScope::shielded();
            scope.spawn(receiver(sock.get(), &got));
            (void)co_await sleep(5ms);
            sock.reset();  // owner dropped
            co_await scope.join();
            REQUIRE_FALSE(got);
            CHECK(got.error().is(Errc::cancelled));
            CHECK_FALSE(std::filesystem::exists(path));
        });
    }

    TEST_CASE("destroying a frame suspended in receive releases the socket and its fd") {
        std::size_t fds_before = open_fds();
        Loop loop;
        {
            auto sock = DatagramSocket::bind(abstract_name());
            REQUIRE(sock);
            auto receiver = [](DatagramSocket* s) -> Task<void> { (void)co_await s->receive(); };
            auto t = receiver(&*sock);
            loop.schedule(t.handle());
            loop.run([]() -> Task<void> { co_return; }());
            CHECK_FALSE(t.done());
        }  // the frame goes first, unresumed, then the socket
        auto closed = loop.close();
        CHECK_MESSAGE(closed.has_value(), (closed ? std::string() : closed.error().message()));
        CHECK(open_fds() == fds_before);  // the close callback closed the socket
    }

    TEST_CASE("a socket nobody awaits does not keep the loop alive") {
        Loop loop;
        auto sock = DatagramSocket::bind(abstract_name());
        REQUIRE(sock);
        // An unrelated wait that can never finish must be reported as a
        // deadlock, not hidden by the idle socket's poll handle.
        auto stuck = []() -> Task<void> {
            Channel<int> ch(1);
            (void)co_await ch.recv();
        };
        CHECK_THROWS_AS(loop.run(stuck()), Deadlock);
        sock->close();
        auto closed = loop.close();
        CHECK_MESSAGE(closed.has_value(), (closed ? std::string() : closed.error().message()));
    }
}
