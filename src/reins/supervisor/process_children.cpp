#include "reins/supervisor/process_children.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <string>
#include <unordered_set>

namespace reins::supervisor {
namespace {

// Appends the pids of one children file ("12 34 56 ") to `out`.
bool read_pid_list(int dirfd, const char* path, std::vector<pid_t>& out) {
    int fd = ::openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    std::string text;
    char chunk[4096];
    for (;;) {
        ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(chunk, static_cast<std::size_t>(n));
    }
    ::close(fd);
    const char* p = text.data();
    const char* end = p + text.size();
    while (p < end) {
        while (p < end && *p == ' ') ++p;
        pid_t pid = 0;
        auto r = std::from_chars(p, end, pid);
        if (r.ec != std::errc()) break;
        if (pid > 0) out.push_back(pid);
        p = r.ptr;
    }
    return true;
}

}  // namespace

bool list_children(pid_t pid, std::vector<pid_t>& out) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/task", static_cast<int>(pid));
    DIR* tasks = ::opendir(path);
    if (!tasks) return false;
    bool any = false;
    while (dirent* t = ::readdir(tasks)) {
        if (t->d_name[0] == '.') continue;
        const std::string children = std::string(t->d_name) + "/children";
        if (read_pid_list(::dirfd(tasks), children.c_str(), out)) any = true;
    }
    ::closedir(tasks);
    return any;
}

std::vector<ProcessRef> descendants_outside(const std::vector<ProcessRef>& roots, const std::vector<ProcessRef>& known) {
    std::vector<ProcessRef> out;
    std::unordered_set<pid_t> seen;
    for (const auto& r : known) seen.insert(r.pid);
    for (const auto& r : roots) seen.insert(r.pid);
    std::vector<pid_t> todo;
    for (const auto& r : roots)
        if (process_alive(r)) list_children(r.pid, todo);
    while (!todo.empty()) {
        pid_t pid = todo.back();
        todo.pop_back();
        if (!seen.insert(pid).second) continue;
        auto ref = process_ref(pid);
        if (!ref) continue;  // gone meanwhile (its children went to the subreaper)
        out.push_back(*ref);
        list_children(pid, todo);
    }
    return out;
}

std::vector<ProcessRef> adopted_orphans(const std::function<bool(pid_t)>& is_own) {
    const pid_t self = ::getpid();
    const pid_t own_session = ::getsid(0);
    std::vector<pid_t> children;
    list_children(self, children);
    std::vector<ProcessRef> roots;
    for (pid_t pid : children) {
        if (is_own && is_own(pid)) continue;
        auto st = read_proc_stat(pid);
        if (!st || st->ppid != self || st->session == own_session || st->state == 'Z' || st->state == 'X') continue;
        roots.push_back(ProcessRef{pid, st->start_time});
    }
    std::vector<ProcessRef> all = roots;
    auto below = descendants_outside(roots, roots);
    all.insert(all.end(), below.begin(), below.end());
    return all;
}

}  // namespace reins::supervisor
