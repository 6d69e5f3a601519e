#include "reins/control/supervisor_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <utility>

#include "reins/control/log_file.hpp"
#include "reins/control/log_writer.hpp"
#include "reins/control/state_file.hpp"
#include "reins/http/json_text.hpp"
#include "reins/supervisor/process_tree.hpp"

namespace reins::control {
namespace {

class LockCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "reins.lock"; }
    std::string message(int ev) const override {
        switch (static_cast<LockErrc>(ev)) {
        case LockErrc::busy: return "the state directory is in use";
        }
        return "unknown lock error " + std::to_string(ev);
    }
};

Error sys_error(int err, std::string what) { return Error(std::error_code(err, std::generic_category()), std::move(what)); }

// What the lock file open as `fd` says, if it parses.
std::optional<LockInfo> read_info(int fd) {
    std::string text;
    char buf[4096];
    for (off_t off = 0; text.size() < 65536;) {
        ssize_t n = ::pread(fd, buf, sizeof buf, off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        off += n;
    }
    auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return std::nullopt;
    auto info = lock_info_from_json(j);
    if (!info) return std::nullopt;
    return std::move(*info);
}

// True when the file at `path` is the very file open as `fd` (nobody
// removed or replaced it since we opened it).
bool same_file(int fd, const std::string& path) {
    struct stat a {}, b {};
    return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// The state dir with 0700, whatever umask and earlier runs left.
Result<void> prepare_dir(const std::string& dir) {
    auto made = make_dirs(dir, 0700);
    if (!made) return made;
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return fail(sys_error(errno, "stat " + dir));
    if ((st.st_mode & 07777) != 0700 && st.st_uid == ::geteuid() && ::chmod(dir.c_str(), 0700) != 0)
        return fail(sys_error(errno, "chmod 0700 " + dir));
    return {};
}

Error busy_error(const StatePaths& paths, const std::optional<LockInfo>& info) {
    std::string who = info && info->pid > 0 ? "another supervisor (pid " + std::to_string(info->pid) + ")"
                                            : "another supervisor";
    return Error(LockErrc::busy, who + " is running on " + paths.dir + " (lock " + paths.lock() + ")");
}

}  // namespace

const std::error_category& lock_category() noexcept {
    static const LockCategory c;
    return c;
}

namespace {

// Creates the state dir and flocks its reins.lock: the open, locked fd, or
// LockErrc::busy (filling `*holder`).
Result<int> lock_file(const StatePaths& paths, LockInfo* holder) {
    using namespace std::chrono;
    if (auto ok = prepare_dir(paths.dir); !ok) return fail(std::move(ok).error());
    const std::string path = paths.lock();
    // `reins status` tests the lock with a LOCK_SH held for microseconds, and
    // a new holder locks before it writes its pid: when the file does not
    // name a live holder, try again for a moment before calling it busy.
    const auto give_up_at = steady_clock::now() + 250ms;
    for (;;) {
        int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) return fail(sys_error(errno, "open lock " + path));
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
            if (same_file(fd, path)) return fd;
            ::close(fd);  // removed or replaced since we opened it: lock the file now there
            continue;
        }
        int err = errno;
        if (err == EINTR) {
            ::close(fd);
            continue;
        }
        if (err != EWOULDBLOCK) {
            ::close(fd);
            return fail(sys_error(err, "lock " + path));
        }
        auto info = read_info(fd);
        ::close(fd);
        bool live = info && supervisor::process_alive(supervisor::ProcessRef{info->pid, info->start_time});
        if (live || steady_clock::now() >= give_up_at) {
            if (holder) *holder = info.value_or(LockInfo{});
            return fail(busy_error(paths, info));
        }
        std::this_thread::sleep_for(5ms);
    }
}

// Makes the locked `fd` say `info` (mode 0600); closes it on failure.
Result<void> write_info(int fd, const std::string& path, const LockInfo& info) {
    if (::fchmod(fd, 0600) != 0) {  // an older file may have had another mode
        int err = errno;
        ::close(fd);
        return fail(sys_error(err, "chmod 0600 " + path));
    }
    const std::string text = http::json_text(to_json(info)) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
        int err = errno == 0 ? EIO : errno;
        ::close(fd);
        return fail(sys_error(err, "write lock " + path));
    }
    return {};
}

}  // namespace

Result<SupervisorLock> SupervisorLock::acquire(const StatePaths& paths, std::string version, LockInfo* holder,
                                               std::string data) {
    auto fd = lock_file(paths, holder);
    if (!fd) return fail(std::move(fd).error());
    std::optional<LockInfo> previous = read_info(*fd);
    LockInfo info;
    info.pid = static_cast<int>(::getpid());
    if (auto t = supervisor::process_start_time(::getpid())) info.start_time = *t;
    info.started_at = LogWriter::timestamp(std::chrono::system_clock::now());
    info.version = std::move(version);
    info.data = std::move(data);
    if (auto w = write_info(*fd, paths.lock(), info); !w) return fail(std::move(w).error());
    SupervisorLock lock(paths, *fd, std::move(info));
    lock.previous_ = std::move(previous);
    if (auto ok = write_file_atomic(paths.pid(), std::to_string(lock.info_.pid) + "\n", 0600); !ok)
        return fail(std::move(ok).error());  // `lock` releases on the way out
    return lock;
}

Result<void> SupervisorLock::relock(LockInfo* holder) {
    if (fd_ < 0) return fail(Errc::not_running, "relock " + paths_.lock() + ": the lock was released");
    auto fd = lock_file(paths_, holder);
    if (!fd) return fail(std::move(fd).error());
    if (auto w = write_info(*fd, paths_.lock(), info_); !w) return w;
    // The old file is unlinked or moved away: letting go of it frees nothing
    // anybody locks. No unlink of reins.pid here: the path is the new one.
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
    fd_ = *fd;
    return write_file_atomic(paths_.pid(), std::to_string(info_.pid) + "\n", 0600);
}

SupervisorLock::SupervisorLock(StatePaths paths, int fd, LockInfo info)
    : paths_(std::move(paths)), fd_(fd), info_(std::move(info)) {}

SupervisorLock::SupervisorLock(SupervisorLock&& o) noexcept
    : paths_(std::move(o.paths_)),
      fd_(std::exchange(o.fd_, -1)),
      info_(std::move(o.info_)),
      previous_(std::move(o.previous_)) {}

SupervisorLock& SupervisorLock::operator=(SupervisorLock&& o) noexcept {
    if (this != &o) {
        release();
        paths_ = std::move(o.paths_);
        fd_ = std::exchange(o.fd_, -1);
        info_ = std::move(o.info_);
        previous_ = std::move(o.previous_);
    }
    return *this;
}

SupervisorLock::~SupervisorLock() { release(); }

void SupervisorLock::release() {
    if (fd_ < 0) return;
    // reins.pid first: whoever sees the lock free must not find our pid.
    ::unlink(paths_.pid().c_str());
    // Explicit unlock: a child forked (not yet exec'ed) shares the open file
    // description, and close() alone would leave the lock to it.
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
    fd_ = -1;
}

void SupervisorLock::abandon() noexcept {
    if (fd_ < 0) return;
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
    fd_ = -1;
}

LockState inspect_lock(const StatePaths& paths) {
    LockState s;
    int fd = ::open(paths.lock().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        s.exists = errno != ENOENT;
        return s;
    }
    s.exists = true;
    if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
        ::flock(fd, LOCK_UN);
    } else {
        s.held = errno == EWOULDBLOCK;
    }
    s.info = read_info(fd);
    ::close(fd);
    return s;
}

}  // namespace reins::control
