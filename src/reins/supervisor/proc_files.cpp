#include "reins/supervisor/proc_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>

namespace reins::supervisor::proc {

pid_t pid_of_name(const char* name) {
    pid_t pid = 0;
    std::string_view s(name);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), pid);
    return (ec == std::errc() && p == s.data() + s.size()) ? pid : 0;
}

// A short read ends the file: the kernel renders /proc/PID/stat in one
// piece and environ_read() stops short only at the end of the environment,
// and it saves a syscall per process.
int read_file_at(int dirfd, const char* name, std::string& storage, std::string_view& text, uid_t* owner) {
    int fd = ::openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    int err = 0;
    struct stat sb{};
    if (owner) {
        if (::fstat(fd, &sb) == 0) *owner = sb.st_uid;
        else err = errno;
    }
    if (storage.size() < 4096) storage.resize(4096);
    std::size_t used = 0;
    while (err == 0) {
        if (used == storage.size()) storage.resize(storage.size() * 2);
        std::size_t want = storage.size() - used;
        ssize_t n = ::read(fd, storage.data() + used, want);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) err = errno;
        if (n <= 0) break;
        used += static_cast<std::size_t>(n);
        if (static_cast<std::size_t>(n) < want) break;
    }
    ::close(fd);
    text = std::string_view(storage.data(), used);
    return err;
}

bool has_env_entry(std::string_view env, std::string_view entry) {
    for (std::size_t pos = env.find(entry); pos != std::string_view::npos; pos = env.find(entry, pos + 1)) {
        bool starts = pos == 0 || env[pos - 1] == '\0';
        std::size_t end = pos + entry.size();
        bool ends = end == env.size() || env[end] == '\0';
        if (starts && ends) return true;
    }
    return false;
}

void for_each_process(const WantsEnviron& wants_environ, const ProcessVisitor& visit) {
    DIR* dir = ::opendir("/proc");
    if (!dir) return;
    const int proc_fd = ::dirfd(dir);
    const pid_t self = ::getpid();
    const uid_t uid = ::geteuid();
    std::string buf;
    std::string_view text;
    char path[64];
    while (dirent* e = ::readdir(dir)) {
        pid_t pid = pid_of_name(e->d_name);
        if (pid <= 0 || pid == self) continue;
        // Paths relative to /proc, no per-process directory fd: the reads of
        // stat and environ could see two processes if the pid is reused in
        // between, but the start time a scan reports is the stat one, so such
        // a ProcessRef names a dead process and signal_process() refuses it.
        std::snprintf(path, sizeof path, "%d/stat", static_cast<int>(pid));
        if (read_file_at(proc_fd, path, buf, text) != 0) continue;
        auto st = parse_proc_stat(text);
        if (!st || dead_state(st->state)) continue;
        Environ env = Environ::not_read;
        text = {};
        if (!(st->flags & kernel_thread_flag) && wants_environ && wants_environ(pid, *st)) {
            // Another uid's environment is unreadable unless we are root.
            std::snprintf(path, sizeof path, "%d/environ", static_cast<int>(pid));
            uid_t owner = uid;
            int err = read_file_at(proc_fd, path, buf, text, uid != 0 ? &owner : nullptr);
            env = err == 0 && owner == uid ? Environ::read : Environ::unreadable;
            if (env != Environ::read) text = {};
        }
        visit(pid, *st, env, text);
    }
    ::closedir(dir);
}

}  // namespace reins::supervisor::proc
