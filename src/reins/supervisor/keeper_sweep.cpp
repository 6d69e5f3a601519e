#include "reins/supervisor/keeper_sweep.hpp"

// GCC must not turn the keeper's copy loops into memcpy/memmove calls: after
// the keeper dropped its memory it calls no library function (see sys()).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

#include <fcntl.h>

#include <csignal>
#include <ctime>

#include "reins/supervisor/keeper_internal.hpp"

namespace reins::supervisor::keeper {
namespace {

constexpr char instance_key[] = "REINS_INSTANCE=";
constexpr std::size_t instance_key_len = sizeof instance_key - 1;

// Processes frozen in one round, killed at its end. Static, not on the
// stack: the forking thread of a host may have a small stack, and untouched
// static pages cost the host nothing.
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

}  // namespace

int sweep_rounds(const char* tag, std::size_t tag_len, const int32_t* groups, std::size_t group_count,
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

const void* sweep_table() noexcept { return frozen; }

bool carries_tag(pid_t pid, const char* tag, std::size_t tag_len) noexcept {
    int proc_fd = static_cast<int>(sys_open_at(AT_FDCWD, "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (proc_fd < 0) return false;
    bool found = carries_tag_at(proc_fd, pid, tag, tag_len);
    sys_close(proc_fd);
    return found;
}

int sweep(const char* tag, std::size_t tag_len, const int32_t* groups, std::size_t group_count,
          int max_rounds) noexcept {
    return sweep_rounds(tag, tag_len, groups, group_count, max_rounds);
}

}  // namespace reins::supervisor::keeper
