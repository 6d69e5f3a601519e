#include "reins/supervisor/process_tree.hpp"

#include "reins/supervisor/proc_files.hpp"
#include "reins/supervisor/process_table.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <string>

#include <uv.h>

namespace reins::supervisor {
namespace {

using proc::dead_state;

// One pass over /proc collecting live processes in group `pgid` (0: none)
// or carrying `REINS_INSTANCE=<instance>` (empty: none) among those started
// at or after `since`, without ourselves; `on_found` sees each as soon as
// the pass reads it.
ServiceProcesses scan(pid_t pgid, std::string_view instance, uint64_t since, const FoundVisitor& on_found = {}) {
    ServiceProcesses out;
    if (pgid <= 1) pgid = 0;  // 0 and 1 would name far more than a service
    if (pgid == 0 && instance.empty()) return out;
    const std::string needle = instance.empty() ? std::string() : "REINS_INSTANCE=" + std::string(instance);
    auto in_group = [pgid](const ProcStat& st) { return pgid != 0 && st.pgrp == pgid; };
    // Only a process started since the run began can have inherited its tag.
    auto wants_environ = [&](pid_t, const ProcStat& st) {
        return !needle.empty() && !in_group(st) && st.start_time >= since;
    };
    proc::for_each_process(wants_environ, [&](pid_t pid, const ProcStat& st, proc::Environ env, std::string_view text) {
        const bool grouped = in_group(st);
        if (!grouped && !(env == proc::Environ::read && proc::has_env_entry(text, needle))) return;
        const ProcessRef ref{pid, st.start_time};
        (grouped ? out.in_group : out.outside).push_back(ref);
        if (on_found) on_found(ref, grouped);
    });
    return out;
}

std::string signal_context(const ProcessRef& ref, int sig) {
    return "signal " + std::to_string(sig) + " to pid " + std::to_string(ref.pid);
}

// Succeeds only while ref.pid is still the same, live process.
Result<void> check_same(const ProcessRef& ref, const std::string& ctx) {
    auto st = read_proc_stat(ref.pid);
    if (!st) return fail(Errc::exited, ctx + ": gone");
    if (st->start_time != ref.start_time) {
        return fail(Errc::exited, ctx + ": pid reused (start time " + std::to_string(st->start_time) +
                                      ", expected " + std::to_string(ref.start_time) + ")");
    }
    if (dead_state(st->state)) return fail(Errc::exited, ctx + ": already exited (zombie)");
    return {};
}

// Set once pidfd_open is known to be missing (old kernel or seccomp).
std::atomic<bool> g_no_pidfd{false};

// A pidfd for `pid`, or -1 with errno set (ENOSYS when unavailable).
int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    if (g_no_pidfd.load(std::memory_order_relaxed)) {
        errno = ENOSYS;
        return -1;
    }
    long fd = ::syscall(SYS_pidfd_open, pid, 0);
    // Docker's older seccomp profiles answer EPERM for syscalls they do not know.
    if (fd < 0 && (errno == ENOSYS || errno == EPERM)) g_no_pidfd.store(true, std::memory_order_relaxed);
    return static_cast<int>(fd);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

int send_via_pidfd(int pidfd, int sig) {
#ifdef SYS_pidfd_send_signal
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
#else
    (void)pidfd;
    (void)sig;
    errno = ENOSYS;
    return -1;
#endif
}

}  // namespace

Result<ProcStat> parse_proc_stat(std::string_view text) {
    auto bad = [&] { return fail(uv_error(UV_EINVAL, "parse /proc stat: unexpected format")); };
    std::size_t paren = text.rfind(')');
    if (paren == std::string_view::npos) return bad();
    // Fields after the command name, counted from 0: state (field 3), ppid,
    // pgrp, session, ... start time is field 22, i.e. index 19 here.
    ProcStat st;
    std::size_t pos = paren + 1;
    for (int index = 0; index <= 19; ++index) {
        while (pos < text.size() && text[pos] == ' ') ++pos;
        std::size_t end = text.find(' ', pos);
        if (end == std::string_view::npos) end = text.size();
        if (pos >= end) return bad();
        std::string_view field = text.substr(pos, end - pos);
        pos = end;
        auto number = [&](auto& v) { return std::from_chars(field.data(), field.data() + field.size(), v).ec == std::errc(); };
        bool ok = true;
        switch (index) {
        case 0: st.state = field[0]; break;
        case 1: ok = number(st.ppid); break;
        case 2: ok = number(st.pgrp); break;
        case 3: ok = number(st.session); break;
        case 6: ok = number(st.flags); break;
        case 19: ok = number(st.start_time); break;
        default: break;
        }
        if (!ok) return bad();
    }
    return st;
}

Result<ProcStat> read_proc_stat(pid_t pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/stat";
    if (pid <= 0) return fail(uv_error(UV_EINVAL, "read " + path));
    std::string buf;
    std::string_view text;
    int err = proc::read_file_at(AT_FDCWD, path.c_str(), buf, text);
    if (err != 0) return fail(uv_error(-err, "read " + path));
    auto st = parse_proc_stat(text);
    if (!st) return fail(uv_error(UV_EINVAL, "parse " + path + ": unexpected format"));
    return st;
}

Result<uint64_t> process_start_time(pid_t pid) {
    auto st = read_proc_stat(pid);
    if (!st) return fail(std::move(st).error());
    return st->start_time;
}

Result<ProcessRef> process_ref(pid_t pid) {
    auto st = read_proc_stat(pid);
    if (!st) return fail(std::move(st).error());
    if (dead_state(st->state)) return fail(Errc::exited, "pid " + std::to_string(pid) + ": already exited (zombie)");
    return ProcessRef{pid, st->start_time};
}

bool process_alive(const ProcessRef& ref) {
    if (ref.pid <= 0) return false;
    auto st = read_proc_stat(ref.pid);
    return st && st->start_time == ref.start_time && !dead_state(st->state);
}

Result<void> signal_process(const ProcessRef& ref, int sig) {
    std::string ctx = signal_context(ref, sig);
    // kill(0) and kill(-1) reach whole groups, kill(1) init: never by accident.
    if (ref.pid <= 1) return fail(uv_error(UV_EINVAL, ctx + ": not a process reins may signal"));
    int pidfd = open_pidfd(ref.pid);
    if (pidfd < 0 && errno == ESRCH) return fail(Errc::exited, ctx + ": gone");
    // With a pidfd, the check proves the fd names our process: that process
    // held the pid before pidfd_open and still holds it now. Without one
    // (any other pidfd_open error), kill() follows the check: a small race.
    auto same = check_same(ref, ctx);
    if (!same) {
        if (pidfd >= 0) ::close(pidfd);
        return same;
    }
    int rc = pidfd >= 0 ? send_via_pidfd(pidfd, sig) : ::kill(ref.pid, sig);
    int err = errno;
    if (pidfd >= 0) ::close(pidfd);
    if (rc == 0) return {};
    if (err == ESRCH) return fail(Errc::exited, ctx + ": gone");
    return fail(uv_error(-err, ctx));
}

int signal_all(const std::vector<ProcessRef>& refs, int sig) {
    int n = 0;
    for (const auto& ref : refs)
        if (signal_process(ref, sig)) ++n;
    return n;
}

std::vector<ProcessRef> ServiceProcesses::all() const {
    std::vector<ProcessRef> out = in_group;
    out.insert(out.end(), outside.begin(), outside.end());
    return out;
}

bool ServiceProcesses::contains(const ProcessRef& ref) const {
    return std::find(in_group.begin(), in_group.end(), ref) != in_group.end() ||
           std::find(outside.begin(), outside.end(), ref) != outside.end();
}

std::vector<ProcessRef> find_instance_processes(std::string_view instance_id) { return scan(0, instance_id, 0).all(); }

bool carries_instance(pid_t pid, std::string_view instance_id) {
    if (pid <= 0 || instance_id.empty()) return false;
    const std::string path = "/proc/" + std::to_string(pid) + "/environ";
    std::string buf;
    std::string_view text;
    if (proc::read_file_at(AT_FDCWD, path.c_str(), buf, text) != 0) return false;
    return proc::has_env_entry(text, "REINS_INSTANCE=" + std::string(instance_id));
}

std::vector<ProcessRef> find_group_processes(pid_t pgid) { return scan(pgid, {}, 0).all(); }

std::vector<ProcessRef> service_processes(pid_t pgid, std::string_view instance) { return scan(pgid, instance, 0).all(); }

ServiceProcesses scan_service(pid_t pgid, std::string_view instance, const FoundVisitor& on_found) {
    return scan(pgid, instance, 0, on_found);
}

ServiceProcesses scan_service(pid_t pgid, std::string_view instance, uint64_t since, const FoundVisitor& on_found) {
    return scan(pgid, instance, since, on_found);
}

std::vector<TaggedProcess> find_tagged_processes(std::string_view tag) {
    std::vector<TaggedProcess> out;
    if (tag.empty()) return out;
    DIR* dir = ::opendir("/proc");
    if (!dir) return out;
    const int proc_fd = ::dirfd(dir);
    const pid_t self = ::getpid();
    constexpr std::string_view key = "REINS_INSTANCE=";
    std::string buf;
    std::string_view text;
    char path[64];
    while (dirent* e = ::readdir(dir)) {
        pid_t pid = proc::pid_of_name(e->d_name);
        if (pid <= 1 || pid == self) continue;
        // The start time before the environment, checked again after it: the
        // environment read is then that process's, not a reused pid's.
        auto ref = process_ref(pid);
        std::snprintf(path, sizeof path, "%d/environ", static_cast<int>(pid));
        if (!ref || proc::read_file_at(proc_fd, path, buf, text) != 0) continue;  // gone, or another user's
        std::string_view id;
        for (std::size_t pos = 0; pos < text.size() && id.empty();) {
            std::size_t end = std::min(text.find('\0', pos), text.size());
            std::string_view entry = text.substr(pos, end - pos);
            if (entry.substr(0, key.size()) == key) id = entry.substr(key.size());
            pos = end + 1;
        }
        std::size_t at = id.rfind(tag);
        if (at == std::string_view::npos || at == 0 || !process_alive(*ref)) continue;
        out.push_back(TaggedProcess{*ref, std::string(id.substr(0, at)), std::string(id)});
    }
    ::closedir(dir);
    return out;
}

}  // namespace reins::supervisor
