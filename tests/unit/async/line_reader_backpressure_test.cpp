// LineReader against a real producer process: a slow consumer holds the
// producer back, and memory stays bounded.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <new>
#include <string>

#include "harness.hpp"
#include "reins/async/line_reader.hpp"

using namespace reins;
using namespace reins::test;
using Clock = std::chrono::steady_clock;

namespace {

// One field of /proc/self/status in KiB ("VmRSS", "VmHWM"), -1 if absent.
long status_kib(const char* field) {
    std::ifstream in("/proc/self/status");
    std::string key;
    long v = -1;
    while (in >> key) {
        if (key == std::string(field) + ":") {
            in >> v;
            return v;
        }
        in.ignore(1 << 20, '\n');
    }
    return -1;
}

// A producer child: writes `lines` lines of 100 'x' + '\n' into `fd` as fast
// as the pipe takes them, publishing its progress in shared memory. Killed
// (SIGKILL) and reaped by pid when this goes away, whatever happened.
struct Producer {
    static constexpr std::size_t line_len = 101;
    pid_t pid = -1;
    std::atomic<std::uint64_t>* written = nullptr;  // bytes the child's write() calls returned
    int read_fd = -1;

    explicit Producer(std::uint64_t lines) {
        void* mem = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        REQUIRE(mem != MAP_FAILED);
        written = new (mem) std::atomic<std::uint64_t>(0);
        int fds[2];
        REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
        pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {  // child: async-signal-safe calls only, then _exit
            ::close(fds[0]);
            static char block[640 * line_len];
            for (std::size_t i = 0; i < sizeof block; ++i) block[i] = (i % line_len == line_len - 1) ? '\n' : 'x';
            std::uint64_t total = lines * line_len, sent = 0;
            while (sent < total) {
                std::uint64_t off = sent % sizeof block;
                std::uint64_t n = std::min<std::uint64_t>(sizeof block - off, total - sent);
                ssize_t w = ::write(fds[1], block + off, n);
                if (w < 0) {
                    if (errno == EINTR) continue;
                    _exit(1);
                }
                sent += static_cast<std::uint64_t>(w);
                written->store(sent, std::memory_order_relaxed);
            }
            _exit(0);
        }
        ::close(fds[1]);
        read_fd = fds[0];
    }
    ~Producer() {
        if (pid > 0) {
            kill(pid, SIGKILL);  // harmless if it already exited: not reaped yet, so the pid is still ours
            waitpid(pid, nullptr, 0);
        }
        if (read_fd >= 0) ::close(read_fd);
        munmap(written, 4096);
    }
    bool running() const {
        siginfo_t info{};
        return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
    }
    // Reaps the child; its exit status, or -1.
    int reap() {
        int status = 0;
        pid_t r = waitpid(pid, &status, 0);
        pid = -1;
        return r > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
};

}  // namespace

TEST_SUITE("line_reader") {
    TEST_CASE("backpressure: a slow consumer blocks a 100 MB producer and memory stays bounded") {
        // A forked child writes 1 Mi lines of 100 bytes as fast as the pipe
        // lets it; the consumer pauses, then sleeps 1 ms every 1000 lines.
        // Whatever the consumer does, bytes in flight (written by the child,
        // not yet returned as lines) stay under pipe + one chunk + max_line.
        run_test([](std::stop_token stop) -> Task<void> {
            constexpr std::uint64_t lines = 1u << 20;
            constexpr std::uint64_t lag_bound = 2u << 20;
            // VmHWM is the peak RSS; "5" resets it to the current RSS (Linux >= 4.0).
            { std::ofstream("/proc/self/clear_refs") << "5"; }
            long rss_before = status_kib("VmRSS");
            auto t0 = Clock::now();
            Producer producer(lines);
            auto s = Stream::open_fd(producer.read_fd);
            REQUIRE(s.has_value());
            producer.read_fd = -1;  // the Stream owns it now
            LineReader reader(*s);

            std::uint64_t consumed = 0;  // bytes returned as lines, '\n' included
            auto first = co_await reader.next(stop);
            REQUIRE(first.has_value());
            consumed += first->text.size() + 1;
            // The consumer stalls: the producer must stall too.
            (void)co_await sleep(300ms, stop);
            std::uint64_t w1 = producer.written->load();
            (void)co_await sleep(100ms, stop);
            std::uint64_t w2 = producer.written->load();
            CHECK(w1 == w2);
            CHECK(w2 - consumed <= lag_bound);
            CHECK(producer.running());
            MESSAGE("stalled producer: ", w2, " bytes written, ", consumed, " consumed");

            std::uint64_t got = 1, max_lag = 0, bad = 0;
            std::size_t max_buffered = 0;
            for (;;) {
                auto l = co_await reader.next(stop);
                if (!l) {
                    CHECK(l.error().is(Errc::end_of_stream));
                    break;
                }
                ++got;
                consumed += l->text.size() + 1;
                if (l->text.size() != 100 || l->text.front() != 'x' || l->text.back() != 'x') ++bad;
                // The child counts a write once it returned: it may trail what we read.
                std::uint64_t w = producer.written->load(std::memory_order_relaxed);
                if (w > consumed && w - consumed > max_lag) max_lag = w - consumed;
                if (reader.buffered() > max_buffered) max_buffered = reader.buffered();
                if (got % 1000 == 0) (void)co_await sleep(1ms, stop);
            }
            auto elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
            CHECK(got == lines);
            CHECK(consumed == lines * Producer::line_len);
            CHECK(bad == 0);
            CHECK(max_lag <= lag_bound);
            CHECK(max_buffered <= 64 * 1024 + Stream::read_chunk);
            CHECK(producer.reap() == 0);
            CHECK(elapsed < 20.0);
            long hwm = status_kib("VmHWM");
            MESSAGE(got, " lines in ", elapsed, " s; max in flight ", max_lag, " B; max buffered ", max_buffered,
                    " B; RSS before ", rss_before, " KiB, peak after ", hwm, " KiB");
#if defined(__SANITIZE_ADDRESS__)
            MESSAGE("RSS bound not checked under AddressSanitizer (its quarantine keeps freed lines)");
#else
            CHECK(hwm - rss_before <= 32 * 1024);
#endif
        }, 30s);
    }
}
