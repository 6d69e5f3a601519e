// The keeper's life (keeper_sweep.hpp: run()): from the clone to the end of
// its sweep. Async-signal-safe; after drop_inherited_memory() it calls no
// library function at all.
#include "reins/supervisor/keeper_sweep.hpp"

// GCC must not turn the keeper's copy loops into memcpy/memmove calls: after
// the keeper dropped its memory it calls no library function (see sys()).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <climits>
#include <csignal>

#include "reins/supervisor/keeper_internal.hpp"

namespace reins::supervisor::keeper {
namespace {

// Process groups the supervisor asked to guard. Static, not on the stack:
// the forking thread of a host may have a small stack, and untouched static
// pages cost the host nothing.
constexpr std::size_t max_groups = 8192;
int32_t guarded[max_groups];

void close_all_but(int keep) noexcept {
    if (keep > 0 && ::syscall(SYS_close_range, 0u, static_cast<unsigned>(keep - 1), 0u) == 0 &&
        ::syscall(SYS_close_range, static_cast<unsigned>(keep + 1), UINT_MAX, 0u) == 0)
        return;
    // Before Linux 5.9: one close() a possible fd.
    rlimit lim{};
    long max = ::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY ? static_cast<long>(lim.rlim_cur)
                                                                                       : 65536;
    for (long fd = 0; fd < max; ++fd)
        if (fd != keep) ::close(static_cast<int>(fd));
}

// Parses a decimal at `p`; advances it.
unsigned long parse_ulong(const char*& p, const char* end) noexcept {
    unsigned long v = 0;
    while (p < end && *p >= '0' && *p <= '9') v = v * 10 + static_cast<unsigned long>(*p++ - '0');
    return v;
}

// Overwrites this process's argument area (inherited from the supervisor:
// "reins __daemon --state-dir ...") with `name`, so that ps, /proc/PID/
// cmdline and whoever looks for the supervisor by its command line do not
// mistake the keeper for it. Its bounds are /proc/self/stat fields 48-49.
void rename_command_line(const char* name) noexcept {
    int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[1024];
    ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    if (n <= 0) return;
    const char* end = buf + n;
    const char* p = end;
    while (p > buf && p[-1] != ')') --p;  // the command name may hold ')' too: the last one ends it
    if (p == buf) return;
    unsigned long arg_start = 0, arg_end = 0;
    for (int field = 2; p < end && field <= 49; ++field) {  // p is at the space before field `field + 1`
        while (p < end && *p == ' ') ++p;
        const char* token = p;
        if (field + 1 == 48) arg_start = parse_ulong(p, end);
        else if (field + 1 == 49) arg_end = parse_ulong(p, end);
        p = token;
        while (p < end && *p != ' ') ++p;
    }
    if (arg_start == 0 || arg_end <= arg_start) return;
    char* area = reinterpret_cast<char*>(arg_start);
    const std::size_t size = arg_end - arg_start;
    std::size_t i = 0;
    for (; name[i] != '\0' && i + 1 < size; ++i) area[i] = name[i];
    for (; i < size; ++i) area[i] = '\0';
}

// Parses a hexadecimal at `p`; advances it.
uintptr_t parse_hex(const char*& p, const char* end) noexcept {
    uintptr_t v = 0;
    for (; p < end; ++p) {
        char c = *p;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) break;
        v = v * 16 + static_cast<uintptr_t>(d);
    }
    return v;
}

// Gives back the copy of the supervisor's memory that the fork left us.
// Every page the supervisor writes after the fork is copied for it, and the
// keeper would keep the old one: over hours, a copy of the host's whole
// heap. So the private anonymous mappings (the heap, malloc's arenas, other
// threads' stacks, a host's buffers) are emptied with MADV_DONTNEED. Kept:
// every file-backed mapping and the anonymous one right after it (a
// library's .bss: libc's state, our tables), the stack we run on, and the
// mapping of the thread pointer (the TLS: errno, the stack-protector
// canary). Nothing the keeper uses lives anywhere else: the tag was copied
// to its stack before. Clean code pages are dropped too (see below).
void drop_inherited_memory() noexcept {
    int fd = static_cast<int>(sys_open_at(AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC));
    if (fd < 0) return;
    const uintptr_t sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    const uintptr_t tp = reinterpret_cast<uintptr_t>(__builtin_thread_pointer());
    const uintptr_t needed[] = {sp, tp, reinterpret_cast<uintptr_t>(guarded), reinterpret_cast<uintptr_t>(sweep_table())};
    char buf[4096];
    char line[512];
    std::size_t len = 0;
    uintptr_t prev_end = 0;
    bool prev_file = false;
    auto handle = [&](const char* p, const char* end) {
        uintptr_t start = parse_hex(p, end);
        if (p < end && *p == '-') ++p;
        uintptr_t stop = parse_hex(p, end);
        while (p < end && *p == ' ') ++p;
        const char* perms = p;
        // Fields: perms offset dev inode, then the path (empty: anonymous).
        for (int field = 0; field < 4 && p < end; ++field) {
            while (p < end && *p != ' ') ++p;
            while (p < end && *p == ' ') ++p;
        }
        const bool named = p < end;
        const bool heap = named && end - p >= 6 && __builtin_memcmp(p, "[heap]", 6) == 0;
        const bool file = named && *p == '/';
        const bool private_writable = end - perms >= 4 && perms[1] == 'w' && perms[3] == 'p';
        bool keep = !private_writable || (named && !heap) || (start == prev_end && prev_file);
        for (uintptr_t a : needed) keep = keep || (a >= start && a < stop);
        // Code is never written: the pages of it the supervisor ran before
        // the clone come back from the page cache, one fault at a time, only
        // where the keeper runs.
        const bool code = file && end - perms >= 4 && perms[1] != 'w' && perms[2] == 'x' && perms[3] == 'p';
        if (!keep || code) sys(SYS_madvise, static_cast<long>(start), static_cast<long>(stop - start), MADV_DONTNEED);
        prev_end = stop;
        prev_file = file;
    };
    for (;;) {
        long n = sys_read(fd, buf, sizeof buf);
        if (n == -EINTR) continue;
        if (n <= 0) break;
        for (long i = 0; i < n; ++i) {
            if (buf[i] != '\n') {
                if (len < sizeof line) line[len++] = buf[i];
                continue;
            }
            handle(line, line + len);
            len = 0;
        }
    }
    sys_close(fd);
}

}  // namespace

void run(int fd, const char* supervisor_tag, std::size_t tag_len) noexcept {
    // The tag lives in the supervisor's heap, which is about to be dropped.
    char tag[128];
    if (tag_len > sizeof tag) tag_len = 0;  // not a tag instance_id.hpp makes: sweep by group only
    for (std::size_t i = 0; i < tag_len; ++i) tag[i] = supervisor_tag[i];
    // Above 0-2, which become /dev/null: the supervisor's terminal or log
    // pipes must not stay open (a reader would never see their end).
    int sock = ::fcntl(fd, F_DUPFD, 3);
    if (sock < 0) sock = fd;
    close_all_but(sock);
    int null = ::open("/dev/null", O_RDWR);
    if (null == 0) {
        ::dup2(0, 1);
        ::dup2(0, 2);
    }
    // Its own session: a Ctrl-C, a SIGHUP of the terminal, or a kill of the
    // supervisor's process group does not take away the guard.
    ::setsid();
    struct sigaction dfl{};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);  // the host's handlers are not ours
    struct sigaction ign{};
    ign.sa_handler = SIG_IGN;
    static constexpr int ignored[] = {SIGINT, SIGQUIT, SIGHUP, SIGTERM, SIGPIPE};
    for (int sig : ignored) ::sigaction(sig, &ign, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::prctl(PR_SET_NAME, "reins-keeper", 0, 0, 0);
    rename_command_line("reins-keeper");
    // Holding no directory: a keeper must not keep a file system busy.
    if (::chdir("/") != 0) {
    }
    if (can_drop_memory) drop_inherited_memory();
    // From here on: no library call (sys() only).

    std::size_t count = 0;
    bool armed = true;
    alignas(4) char buf[4096];
    std::size_t have = 0;  // bytes of an incomplete message at the start of buf
    for (;;) {
        long n = sys_read(sock, buf + have, sizeof buf - have);
        if (n == -EINTR) continue;
        if (n <= 0) break;  // EOF: the supervisor closed its end, or died
        have += static_cast<std::size_t>(n);
        std::size_t at = 0;
        for (; at + sizeof(int32_t) <= have; at += sizeof(int32_t)) {
            int32_t v;
            __builtin_memcpy(&v, buf + at, sizeof v);
            if (v == disarm) {
                armed = false;
            } else if (v > 0) {
                if (count < max_groups) guarded[count++] = v;  // beyond: the tag still finds them
            } else {
                for (std::size_t i = 0; i < count; ++i)
                    if (guarded[i] == -v) {
                        guarded[i] = guarded[--count];
                        break;
                    }
            }
        }
        for (std::size_t i = at; i < have; ++i) buf[i - at] = buf[i];
        have -= at;
    }
    if (armed) sweep_rounds(tag, tag_len, guarded, count, 100);
    for (;;) sys(SYS_exit_group, 0);
}

}  // namespace reins::supervisor::keeper
