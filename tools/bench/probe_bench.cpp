// reins-bench-probe: what one HTTP probe (http::request) costs the prober.
//
// A responder runs on a second thread with a Loop of its own (or, with
// `--fixture PATH`, the fixture server as a child process) and answers every
// request with a small 200. The main thread sends probes one after another,
// then many at once, and reports per request:
//   wall      time from calling request() to its result, median and p99
//   cpu       the prober thread's own CPU time (CLOCK_THREAD_CPUTIME_ID)
//   allocs    heap allocations made on the prober thread: operator new plus
//             libuv's malloc/calloc/realloc (uv_replace_allocator), and bytes
// Allocation counters are thread_local, so the responder's never count.
//
// Build it optimized (-Dbuildtype=release); numbers from a debug build say little.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include <uv.h>

#include "reins/async/line_reader.hpp"
#include "reins/async/loop.hpp"
#include "reins/async/process.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/async/tcp.hpp"
#include "reins/http/client.hpp"

// ---- counting allocator (this thread only) ------------------------------------
namespace {
thread_local bool t_counting = false;
thread_local unsigned long long t_allocs = 0;
thread_local unsigned long long t_bytes = 0;

void* counted(std::size_t n) {
    if (t_counting) {
        ++t_allocs;
        t_bytes += n;
    }
    return std::malloc(n ? n : 1);
}
void* counted_new(std::size_t n) {
    if (void* p = counted(n)) return p;
    throw std::bad_alloc();
}
void* uv_malloc_counted(std::size_t n) { return counted(n); }
void* uv_realloc_counted(void* p, std::size_t n) {
    if (t_counting) {
        ++t_allocs;
        t_bytes += n;
    }
    return std::realloc(p, n);
}
void* uv_calloc_counted(std::size_t c, std::size_t n) {
    if (t_counting) {
        ++t_allocs;
        t_bytes += c * n;
    }
    return std::calloc(c, n);
}
}  // namespace

void* operator new(std::size_t n) { return counted_new(n); }
void* operator new[](std::size_t n) { return counted_new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

// ---- measuring ------------------------------------------------------------------
namespace {

using Clock = std::chrono::steady_clock;
using reins::Task;
using namespace reins::http;

constexpr char canned[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

double thread_cpu_us() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// The kernel's share of this thread's CPU time (RUSAGE_THREAD; tick-grained).
double thread_sys_us() {
    rusage ru{};
    getrusage(RUSAGE_THREAD, &ru);
    return static_cast<double>(ru.ru_stime.tv_sec) * 1e6 + static_cast<double>(ru.ru_stime.tv_usec);
}

struct Sample {
    std::vector<double> wall;  // µs per request
    double cpu_us = 0;         // prober thread, whole run
    double sys_us = 0;         // ...of which in the kernel
    unsigned long long allocs = 0, bytes = 0;
    int failures = 0;
    std::string first_error;
    double elapsed_us = 0;
};

// n probes one after another (timing inline: a helper coroutine per probe
// would add its own frame to the allocation count).
Task<void> chain(Target t, RequestOptions o, int n, Sample* s) {
    for (int i = 0; i < n; ++i) {
        auto t0 = Clock::now();
        auto r = co_await request(t, "GET", "/ready", o);
        s->wall.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (!r && s->failures++ == 0) s->first_error = r.error().message();
    }
}

// `total` requests, `width` at a time (width 1: one after another).
Task<Sample> measure(Target t, bool read_body, int total, int width) {
    RequestOptions o;
    o.read_body = read_body;
    Sample s;
    s.wall.reserve(static_cast<std::size_t>(total));
    auto c0 = thread_cpu_us();
    auto k0 = thread_sys_us();
    auto t0 = Clock::now();
    t_allocs = t_bytes = 0;
    t_counting = true;
    {
        reins::TaskScope scope = reins::TaskScope::shielded();
        for (int i = 0; i < width; ++i) scope.spawn(chain(t, o, total / width, &s));
        co_await scope.join();
    }
    t_counting = false;
    s.allocs = t_allocs;
    s.bytes = t_bytes;
    s.cpu_us = thread_cpu_us() - c0;
    s.sys_us = thread_sys_us() - k0;
    s.elapsed_us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    co_return s;
}

double pct(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5))];
}

void print_row(const char* what, const Sample& s, int width) {
    auto n = static_cast<double>(s.wall.size());
    std::printf("| %-36s | %5zu | %4d | %6.1f | %7.1f | %6.1f | %6.1f | %6.2f | %6.0f | %6.0f |\n", what, s.wall.size(),
                width, pct(s.wall, 0.5), pct(s.wall, 0.99), s.cpu_us / n, s.sys_us / n,
                static_cast<double>(s.allocs) / n, static_cast<double>(s.bytes) / n, n / (s.elapsed_us / 1e6));
    if (s.failures) std::printf("|   %d failed, first: %s\n", s.failures, s.first_error.c_str());
}

// The floor: the same exchange with blocking POSIX calls and no runtime at
// all (socket, connect, write, read until EOF, close).
Sample baseline(int port, int total) {
    Sample s;
    s.wall.reserve(static_cast<std::size_t>(total));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const char req[] = "GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    char buf[4096];
    auto c0 = thread_cpu_us();
    auto k0 = thread_sys_us();
    auto t0 = Clock::now();
    for (int i = 0; i < total; ++i) {
        auto r0 = Clock::now();
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
                  ::write(fd, req, sizeof req - 1) == static_cast<ssize_t>(sizeof req - 1);
        while (ok && ::read(fd, buf, sizeof buf) > 0) {
        }
        if (fd >= 0) ::close(fd);
        if (!ok) ++s.failures;
        s.wall.push_back(std::chrono::duration<double, std::micro>(Clock::now() - r0).count());
    }
    s.cpu_us = thread_cpu_us() - c0;
    s.sys_us = thread_sys_us() - k0;
    s.elapsed_us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    return s;
}

int reins_port(const Target& t) { return std::get<0>(t.where).port(); }

Task<int> bench(Target t) {
    std::printf("| %-36s | %5s | %4s | %6s | %7s | %6s | %6s | %6s | %6s | %6s |\n", "probe", "n", "conc", "p50 µs",
                "p99 µs", "cpu µs", "sys µs", "allocs", "bytes", "req/s");
    std::printf("|%s|-------|------|--------|---------|--------|--------|--------|--------|--------|\n",
                std::string(38, '-').c_str());
    auto warm = co_await measure(t, true, 200, 1);
    if (warm.failures) {
        std::printf("warm-up failed: %s\n", warm.first_error.c_str());
        co_return 1;
    }
    auto a = co_await measure(t, true, 5000, 1);
    print_row("GET, body read", a, 1);
    auto b = co_await measure(t, false, 5000, 1);
    print_row("GET, status + headers only (probe)", b, 1);
    auto c = co_await measure(t, false, 5000, 50);
    print_row("GET, headers only, 50 in flight", c, 50);
    auto floor = baseline(reins_port(t), 5000);  // blocks this thread: the responder is elsewhere
    print_row("POSIX blocking calls (no reins)", floor, 1);
    co_return a.failures + b.failures + c.failures ? 1 : 0;
}

// ---- the responder on its own thread ---------------------------------------------
struct Responder {
    std::atomic<int> port{0};
    reins::TcpListener* listener = nullptr;
};

Task<void> answer(reins::Stream c, Responder* r) {
    std::string req;
    while (req.find("\r\n\r\n") == std::string::npos) {
        auto chunk = co_await c.read();
        if (!chunk) co_return;
        req.append(*chunk);
    }
    if (req.rfind("GET /quit ", 0) == 0) {
        r->listener->close();  // the accept loop ends; this thread's Loop returns
        co_return;
    }
    auto w = co_await c.write(canned);
    (void)w;
}

Task<int> serve(Responder* r) {
    auto l = reins::TcpListener::listen(*reins::parse_endpoint("127.0.0.1", 0), 1024);
    if (!l) {
        std::fprintf(stderr, "listen: %s\n", l.error().message().c_str());
        r->port = -1;
        co_return 1;
    }
    r->listener = &*l;
    r->port = l->local().port();
    reins::TaskScope scope = reins::TaskScope::shielded();
    for (;;) {
        auto c = co_await l->accept();
        if (!c) break;
        scope.spawn(answer(std::move(*c), r));
    }
    co_await scope.join();
    co_return 0;
}

// The fixture server instead of the thread (--fixture PATH): a separate process.
Task<int> with_fixture(std::string exe) {
    reins::ProcessOptions o;
    o.argv = {exe, "--port", "0"};
    auto p = reins::Process::spawn(std::move(o));
    if (!p) {
        std::fprintf(stderr, "%s\n", p.error().message().c_str());
        co_return 1;
    }
    reins::Stream out = p->take_stdout();
    reins::LineReader lines(out);
    auto line = co_await lines.next();
    const std::string prefix = "fixture: listening on 127.0.0.1:";
    if (!line || line->text.rfind(prefix, 0) != 0) co_return 1;
    auto ep = reins::parse_endpoint("127.0.0.1", std::stoi(line->text.substr(prefix.size())));
    int rc = co_await bench(Target::tcp(*ep));
    co_return rc;  // ~Process kills the fixture; Loop::close reaps it
}

Task<int> with_thread(int port) {
    auto ep = reins::parse_endpoint("127.0.0.1", port);
    int rc = co_await bench(Target::tcp(*ep));
    RequestOptions o;
    auto quit = co_await request(Target::tcp(*ep), "GET", "/quit", o);
    (void)quit;  // the responder closes without answering
    co_return rc;
}

}  // namespace

int main(int argc, char** argv) {
    uv_replace_allocator(uv_malloc_counted, uv_realloc_counted, uv_calloc_counted, std::free);
    uv_disable_stdio_inheritance();
    std::signal(SIGPIPE, SIG_IGN);
    std::printf("## http::request, one connection per probe, loopback (%s)\n\n",
                argc > 2 && std::strcmp(argv[1], "--fixture") == 0 ? "fixture server process" : "responder thread");
    if (argc > 2 && std::strcmp(argv[1], "--fixture") == 0) {
        reins::Loop loop;
        int rc = loop.run(with_fixture(argv[2]));
        return loop.close() ? rc : 3;
    }
    Responder r;
    std::thread th([&r] {
        reins::Loop loop;
        loop.run(serve(&r));
        (void)loop.close();
    });
    while (r.port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    int rc = 1;
    if (r.port > 0) {
        reins::Loop loop;
        rc = loop.run(with_thread(r.port));
        if (!loop.close()) rc = 3;
    }
    th.join();
    return rc;
}
