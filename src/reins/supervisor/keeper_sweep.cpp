#include "reins/supervisor/keeper_sweep.hpp"

// GCC must not turn the keeper's copy loops into memcpy/memmove calls: after
// the keeper dropped its memory it calls no library function (see sys()).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define REINS_KEEPER_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define REINS_KEEPER_SANITIZED 1
#endif
#endif

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <ctime>

namespace reins::supervisor::keeper {
namespace {

constexpr char instance_key[] = "REINS_INSTANCE=";
constexpr std::size_t instance_key_len = sizeof instance_key - 1;

// Process groups the supervisor asked to guard. Static, not on the stack:
// the forking thread of a host may have a small stack, and untouched static
// pages cost the host nothing.
constexpr std::size_t max_groups = 8192;
int32_t guarded[max_groups];
// Processes frozen in one round, killed at its end.
constexpr std::size_t max_frozen = 8192;
pid_t frozen[max_frozen];

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[1];
};

// System calls without libc. After drop_inherited_memory() the keeper may
// neither go through the PLT (lazy binding reads the dynamic linker's data,
// some of it on the heap) nor touch errno. Returns >= 0, or -errno.
#if defined(__x86_64__) && !defined(REINS_KEEPER_SANITIZED)
constexpr bool can_drop_memory = true;
long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0) noexcept {
    long ret;
    register long r10 asm("r10") = d;
    asm volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return ret;
}
#elif defined(__aarch64__) && !defined(REINS_KEEPER_SANITIZED)
constexpr bool can_drop_memory = true;
long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0) noexcept {
    register long x8 asm("x8") = n;
    register long x0 asm("x0") = a;
    register long x1 asm("x1") = b;
    register long x2 asm("x2") = c;
    register long x3 asm("x3") = d;
    asm volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
}
#else
// Elsewhere (and under sanitizers, whose instrumentation calls into their
// runtime) the keeper keeps its copy of the supervisor's memory.
constexpr bool can_drop_memory = false;
long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0) noexcept {
    long r = ::syscall(n, a, b, c, d);
    return r < 0 ? -errno : r;
}
#endif

long sys_open_at(int dir, const char* path, int flags) noexcept {
    return sys(SYS_openat, dir, reinterpret_cast<long>(path), flags);
}
long sys_read(int fd, void* buf, std::size_t n) noexcept {
    return sys(SYS_read, fd, reinterpret_cast<long>(buf), static_cast<long>(n));
}
void sys_close(int fd) noexcept { sys(SYS_close, fd); }
bool sys_kill(pid_t pid, int sig) noexcept { return sys(SYS_kill, pid, sig) == 0; }

// "/proc" entry name → pid, 0 unless it is all digits.
pid_t pid_of(const char* name) noexcept {
    if (*name == '\0') return 0;
    long v = 0;
    for (const char* p = name; *p; ++p) {
        if (*p < '0' || *p > '9' || v > 100000000) return 0;
        v = v * 10 + (*p - '0');
    }
    return static_cast<pid_t>(v);
}

// "PID/environ", relative to /proc.
void environ_path(pid_t pid, char (&out)[32]) noexcept {
    char digits[16];
    int n = 0;
    for (unsigned v = static_cast<unsigned>(pid); n == 0 || v != 0; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
    int i = 0;
    while (n > 0) out[i++] = digits[--n];
    for (const char* s = "/environ"; *s; ++s) out[i++] = *s;
    out[i] = '\0';
}

bool contains_inside(const char* value, std::size_t len, const char* tag, std::size_t tag_len) noexcept {
    // The tag follows the service's name: at position 0 it is not ours.
    for (std::size_t at = 1; at + tag_len <= len; ++at) {
        std::size_t k = 0;
        while (k < tag_len && value[at + k] == tag[k]) ++k;
        if (k == tag_len) return true;
    }
    return false;
}

bool carries_tag_at(int proc_fd, pid_t pid, const char* tag, std::size_t tag_len) noexcept {
    char path[32];
    environ_path(pid, path);
    int fd = static_cast<int>(sys_open_at(proc_fd, path, O_RDONLY | O_CLOEXEC));
    if (fd < 0) return false;  // gone, or another user's
    // Streamed: an environment may be megabytes; only the value of
    // REINS_INSTANCE is kept (an id longer than `value` is not ours).
    char buf[4096];
    char value[1024];
    std::size_t vlen = 0;
    std::size_t matched = 0;  // bytes of instance_key matched at the start of this entry
    bool in_value = false;
    bool mismatch = false;  // this entry is not REINS_INSTANCE
    bool found = false;
    while (!found) {
        long n = sys_read(fd, buf, sizeof buf);
        if (n == -EINTR) continue;
        if (n <= 0) break;
        for (long i = 0; i < n && !found; ++i) {
            char c = buf[i];
            if (c == '\0') {
                if (in_value && vlen < sizeof value && contains_inside(value, vlen, tag, tag_len)) found = true;
                vlen = matched = 0;
                in_value = mismatch = false;
            } else if (in_value) {
                if (vlen < sizeof value) value[vlen++] = c;
                else vlen = sizeof value;  // too long: never ours
            } else if (!mismatch) {
                if (c != instance_key[matched]) mismatch = true;
                else if (++matched == instance_key_len) in_value = true;
            }
        }
    }
    sys_close(fd);
    return found;
}

void pause_ms(long ms) noexcept {
    timespec ts{0, ms * 1000000L};
    while (sys(SYS_nanosleep, reinterpret_cast<long>(&ts), reinterpret_cast<long>(&ts)) == -EINTR) {
    }
}

// SIGSTOP to `pid` once it is known to be the process whose environment
// was read: through a pidfd opened before the second read (a pid reused in
// between is then a different process, and the signal fails); kill() where
// pidfds are missing.
bool freeze(int proc_fd, pid_t pid, const char* tag, std::size_t tag_len) noexcept {
#ifdef SYS_pidfd_open
    long pfd = sys(SYS_pidfd_open, pid, 0);
    if (pfd >= 0) {
        bool ok = carries_tag_at(proc_fd, pid, tag, tag_len) && sys(SYS_pidfd_send_signal, pfd, SIGSTOP) == 0;
        sys_close(static_cast<int>(pfd));
        return ok;
    }
    if (pfd == -ESRCH) return false;
#endif
    return sys_kill(pid, SIGSTOP);
}

// One pass over /proc: freezes every tagged process; returns how many.
// Those beyond `frozen`'s room are killed at once.
std::size_t freeze_tagged(const char* tag, std::size_t tag_len, std::size_t& n_frozen) noexcept {
    int proc_fd = static_cast<int>(sys_open_at(AT_FDCWD, "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (proc_fd < 0) return 0;
    const pid_t self = static_cast<pid_t>(sys(SYS_getpid));
    std::size_t found = 0;
    alignas(8) char buf[4096];
    for (;;) {
        long n = sys(SYS_getdents64, proc_fd, reinterpret_cast<long>(buf), sizeof buf);
        if (n == -EINTR) continue;
        if (n <= 0) break;
        for (long off = 0; off < n;) {
            auto* e = reinterpret_cast<linux_dirent64*>(buf + off);
            off += e->d_reclen;
            pid_t pid = pid_of(e->d_name);
            if (pid <= 1 || pid == self) continue;
            if (!carries_tag_at(proc_fd, pid, tag, tag_len)) continue;
            if (!freeze(proc_fd, pid, tag, tag_len)) continue;
            ++found;
            if (n_frozen < max_frozen) frozen[n_frozen++] = pid;
            else sys_kill(pid, SIGKILL);
        }
    }
    sys_close(proc_fd);
    return found;
}

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
// to its stack before.
void drop_inherited_memory() noexcept {
    int fd = static_cast<int>(sys_open_at(AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC));
    if (fd < 0) return;
    const uintptr_t sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    const uintptr_t tp = reinterpret_cast<uintptr_t>(__builtin_thread_pointer());
    const uintptr_t needed[] = {sp, tp, reinterpret_cast<uintptr_t>(guarded), reinterpret_cast<uintptr_t>(frozen)};
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
        if (!keep) sys(SYS_madvise, static_cast<long>(start), static_cast<long>(stop - start), MADV_DONTNEED);
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

// (Internal linkage: run() must reach it without a PLT entry.)
int sweep_impl(const char* tag, std::size_t tag_len, const int32_t* groups, std::size_t group_count,
               int max_rounds) noexcept {
    int signalled = 0;
    // A group is signalled as a whole by the kernel (a fork racing with the
    // signal is undone), so once is enough; the groups are frozen with the
    // first round and killed at its end.
    for (std::size_t i = 0; i < group_count; ++i)
        if (groups[i] > 1) sys_kill(-groups[i], SIGSTOP);
    for (int round = 0; round < max_rounds; ++round) {
        std::size_t n_frozen = 0;
        std::size_t found = tag_len > 0 ? freeze_tagged(tag, tag_len, n_frozen) : 0;
        if (round == 0)
            for (std::size_t i = 0; i < group_count; ++i)
                if (groups[i] > 1 && sys_kill(-groups[i], SIGKILL)) ++signalled;
        for (std::size_t i = 0; i < n_frozen; ++i)
            if (sys_kill(frozen[i], SIGKILL)) ++signalled;
        if (found == 0) break;
        // A killed process keeps its environment until it is scheduled to
        // die: give them a moment, then look again for what they forked.
        pause_ms(1);
    }
    return signalled;
}

}  // namespace

bool carries_tag(pid_t pid, const char* tag, std::size_t tag_len) noexcept {
    int proc_fd = static_cast<int>(sys_open_at(AT_FDCWD, "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (proc_fd < 0) return false;
    bool found = carries_tag_at(proc_fd, pid, tag, tag_len);
    sys_close(proc_fd);
    return found;
}

int sweep(const char* tag, std::size_t tag_len, const int32_t* groups, std::size_t group_count,
          int max_rounds) noexcept {
    return sweep_impl(tag, tag_len, groups, group_count, max_rounds);
}

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
    if (armed) sweep_impl(tag, tag_len, guarded, count, 100);
    for (;;) sys(SYS_exit_group, 0);
}

}  // namespace reins::supervisor::keeper
