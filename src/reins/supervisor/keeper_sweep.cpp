#include "reins/supervisor/keeper_sweep.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
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
    int fd = ::openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
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
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t i = 0; i < n && !found; ++i) {
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
    ::close(fd);
    return found;
}

void pause_ms(long ms) noexcept {
    timespec ts{0, ms * 1000000L};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

// SIGSTOP to `pid` once it is known to be the process whose environment
// was read: through a pidfd opened before the second read (a pid reused in
// between is then a different process, and the signal fails); kill() where
// pidfds are missing.
bool freeze(int proc_fd, pid_t pid, const char* tag, std::size_t tag_len) noexcept {
#ifdef SYS_pidfd_open
    int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pfd >= 0) {
        bool ok = carries_tag_at(proc_fd, pid, tag, tag_len) &&
                  ::syscall(SYS_pidfd_send_signal, pfd, SIGSTOP, nullptr, 0) == 0;
        ::close(pfd);
        return ok;
    }
    if (errno == ESRCH) return false;
#endif
    return ::kill(pid, SIGSTOP) == 0;
}

// One pass over /proc: freezes every tagged process; returns how many.
// Those beyond `frozen`'s room are killed at once.
std::size_t freeze_tagged(const char* tag, std::size_t tag_len, std::size_t& n_frozen) noexcept {
    int proc_fd = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc_fd < 0) return 0;
    const pid_t self = ::getpid();
    std::size_t found = 0;
    alignas(8) char buf[4096];
    for (;;) {
        long n = ::syscall(SYS_getdents64, proc_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
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
            else ::kill(pid, SIGKILL);
        }
    }
    ::close(proc_fd);
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

}  // namespace

bool carries_tag(pid_t pid, const char* tag, std::size_t tag_len) noexcept {
    int proc_fd = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc_fd < 0) return false;
    bool found = carries_tag_at(proc_fd, pid, tag, tag_len);
    ::close(proc_fd);
    return found;
}

int sweep(const char* tag, std::size_t tag_len, const int32_t* groups, std::size_t group_count,
          int max_rounds) noexcept {
    int signalled = 0;
    // A group is signalled as a whole by the kernel (a fork racing with the
    // signal is undone), so once is enough; the groups are frozen with the
    // first round and killed at its end.
    for (std::size_t i = 0; i < group_count; ++i)
        if (groups[i] > 1) ::kill(-groups[i], SIGSTOP);
    for (int round = 0; round < max_rounds; ++round) {
        std::size_t n_frozen = 0;
        std::size_t found = tag_len > 0 ? freeze_tagged(tag, tag_len, n_frozen) : 0;
        if (round == 0)
            for (std::size_t i = 0; i < group_count; ++i)
                if (groups[i] > 1 && ::kill(-groups[i], SIGKILL) == 0) ++signalled;
        for (std::size_t i = 0; i < n_frozen; ++i)
            if (::kill(frozen[i], SIGKILL) == 0) ++signalled;
        if (found == 0) break;
        // A killed process keeps its environment until it is scheduled to
        // die: give them a moment, then look again for what they forked.
        pause_ms(1);
    }
    return signalled;
}

void run(int fd, const char* tag, std::size_t tag_len) noexcept {
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

    std::size_t count = 0;
    bool armed = true;
    alignas(4) char buf[4096];
    std::size_t have = 0;  // bytes of an incomplete message at the start of buf
    for (;;) {
        ssize_t n = ::read(sock, buf + have, sizeof buf - have);
        if (n < 0 && errno == EINTR) continue;
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
    if (armed) sweep(tag, tag_len, guarded, count);
    ::_exit(0);
}

}  // namespace reins::supervisor::keeper
