// LogFollower: following one log file across rotations (docs/cli.md, Logs: `reins logs -f`).
//
// Rotation (LogFile::rotate) closes the file, renames it to NAME.log.1 and
// creates a new NAME.log. The follower keeps its fd on the old file, so once
// it sees that the name points elsewhere it can still read what was written
// before the rename, and then moves on to the file written after it, from
// its start. That is not always NAME.log: when several rotations happened
// since the last read, the old file is now NAME.log.K and its successor is
// NAME.log.K-1, so the follower walks the chain by inode, never skipping a
// file that still exists. Only files rotated past `keep` are lost.
#include "reins/control/log_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

namespace reins::control {
namespace {

constexpr std::size_t chunk_size = 64 * 1024;
// Longest run of bytes kept while waiting for a '\n'; a longer "line" is
// returned in pieces (the writer never stores lines that long).
constexpr std::size_t max_partial = LogFollower::max_batch;

Error sys_error(const std::string& what) { return uv_error(uv_translate_sys_error(errno), what); }

std::pair<std::string, std::string> split_path(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return {".", path};
    return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

/// The offset just after the last '\n' among the last max_partial bytes of
/// `fd` (0 when the whole file has none; `size` when the tail is longer).
std::uint64_t after_last_newline(int fd, std::uint64_t size) {
    std::string buf;
    std::uint64_t pos = size;
    while (pos > 0 && size - pos < max_partial) {
        auto len = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size, pos));
        pos -= len;
        buf.resize(len);
        ssize_t n = ::pread(fd, buf.data(), len, static_cast<off_t>(pos));
        if (n != static_cast<ssize_t>(len)) return size;
        auto nl = buf.rfind('\n');
        if (nl != std::string::npos) return pos + nl + 1;
    }
    return pos == 0 ? 0 : size;
}

/// Suspends until the loop's next turn (through the ready queue).
class YieldAwaiter {
public:
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
        done_.arm(h);
        done_.complete(true);
    }
    void await_resume() { (void)done_.take(); }

private:
    detail::Completion<bool> done_;
};

}  // namespace

Result<LogFollower> LogFollower::open(std::string path) {
    auto [dir, name] = split_path(path);
    // The folder, not the file: a watch on the file would stay on the old
    // inode after a rotation and never see the new file being created.
    auto watch = FileWatch::watch(dir, name);
    if (!watch) return fail(Error(watch.error().code, "follow " + path + ": " + watch.error().context));
    LogFollower f(std::move(path), std::move(*watch));
    auto opened = f.open_file();
    if (!opened) return fail(std::move(opened).error());
    if (*opened) {
        struct stat st {};
        if (::fstat(f.fd_, &st) != 0) return fail(sys_error("stat log " + f.path_));
        f.offset_ = after_last_newline(f.fd_, static_cast<std::uint64_t>(st.st_size));
    }
    f.start_ = f.offset_;
    return f;
}

LogFollower::~LogFollower() { close_file(); }

LogFollower::LogFollower(LogFollower&& o) noexcept
    : path_(std::move(o.path_)), watch_(std::move(o.watch_)), fd_(std::exchange(o.fd_, -1)), dev_(o.dev_),
      ino_(o.ino_), offset_(o.offset_), start_(o.start_), partial_(std::move(o.partial_)) {}

void LogFollower::close_file() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

Result<bool> LogFollower::open_file() {
    // O_NONBLOCK: a FIFO in the log's place must not block the loop.
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) return false;
        return fail(sys_error("open log " + path_));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return fail(uv_error(UV_EINVAL, "follow " + path_ + ": not a regular file"));
    }
    fd_ = fd;
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    offset_ = 0;
    return true;
}

Result<bool> LogFollower::read_lines(std::vector<std::string>& out, std::size_t& bytes) {
    while (bytes < max_batch) {
        std::size_t old = partial_.size();
        partial_.resize(old + chunk_size);
        ssize_t n = ::pread(fd_, partial_.data() + old, chunk_size, static_cast<off_t>(offset_));
        if (n < 0) {
            partial_.resize(old);
            if (errno == EINTR) continue;
            return fail(sys_error("read log " + path_));
        }
        partial_.resize(old + static_cast<std::size_t>(n));
        if (n == 0) return true;
        offset_ += static_cast<std::uint64_t>(n);
        std::size_t from = 0;
        for (std::size_t nl; (nl = partial_.find('\n', std::max(from, old))) != std::string::npos; from = nl + 1) {
            out.emplace_back(partial_, from, nl - from);
            bytes += nl - from + 1;
        }
        partial_.erase(0, from);
        if (partial_.size() >= max_partial) {
            bytes += partial_.size();
            out.push_back(std::move(partial_));
            partial_.clear();
        }
    }
    return false;
}

Result<LogFollower::Change> LogFollower::change() const {
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) {
        if (errno == ENOENT) return Change::replaced;  // renamed away, the new file not there yet
        return fail(sys_error("stat log " + path_));
    }
    if (st.st_dev != dev_ || st.st_ino != ino_) return Change::replaced;
    if (::fstat(fd_, &st) == 0 && static_cast<std::uint64_t>(st.st_size) < offset_) return Change::truncated;
    return Change::none;
}

namespace {

std::string rotated_name(const std::string& path, int k) {
    return k == 0 ? path : path + "." + std::to_string(k);
}

bool same_file(const struct stat& st, dev_t dev, ino_t ino) { return st.st_dev == dev && st.st_ino == ino; }

bool not_older(const struct timespec& a, const struct timespec& b) {
    return a.tv_sec != b.tv_sec ? a.tv_sec > b.tv_sec : a.tv_nsec >= b.tv_nsec;
}

}  // namespace

int LogFollower::rotated_index(int* last) const {
    // A rotation renames .N-1 -> .N first and path -> .1 last, so while one
    // runs a single name may be missing: two misses in a row end the list.
    int misses = 0;
    *last = 0;
    for (int k = 1; k <= 1000 && misses < 2; ++k) {
        struct stat st {};
        if (::stat(rotated_name(path_, k).c_str(), &st) != 0) {
            ++misses;
            continue;
        }
        misses = 0;
        *last = k;
        if (same_file(st, dev_, ino_)) return k;
    }
    return 0;
}

Result<int> LogFollower::open_successor() const {
    struct stat ours {};
    if (::fstat(fd_, &ours) != 0) return fail(sys_error("stat log " + path_));
    int fd = -1;
    for (int attempt = 0; attempt < 4; ++attempt) {
        int last = 0;
        int k = rotated_index(&last);
        std::string next = path_;
        if (k > 0) {
            next = rotated_name(path_, k - 1);
        } else {
            // Ours is gone (rotated past `keep`, or keep = 0): every rotated
            // file left is newer, and the oldest of them comes next.
            for (int i = last; i >= 1; --i) {
                struct stat st {};
                if (::stat(rotated_name(path_, i).c_str(), &st) == 0 && not_older(st.st_mtim, ours.st_mtim)) {
                    next = rotated_name(path_, i);
                    break;
                }
            }
        }
        if (fd >= 0) ::close(fd);
        fd = ::open(next.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0 && errno != ENOENT) return fail(sys_error("open log " + next));
        if (k == 0) return fd;  // -1: the new file is not there yet
        // Still at .k after opening .k-1: no rotation moved .k-1 in between,
        // so the file we opened is the one written right after ours.
        struct stat st {};
        if (::stat(rotated_name(path_, k).c_str(), &st) == 0 && same_file(st, dev_, ino_)) return fd;
    }
    return fd;
}

Result<std::vector<std::string>> LogFollower::poll() {
    std::vector<std::string> out;
    std::size_t bytes = 0;
    // Each round moves on to a newer file; more rounds than that in one poll
    // means rotations faster than we read: the pending watch event brings us back.
    for (int round = 0; round < 16; ++round) {
        if (fd_ < 0) {
            auto opened = open_file();
            if (!opened) return fail(std::move(opened).error());
            if (!*opened) return out;  // no file yet: its creation wakes the watch
        }
        auto at_end = read_lines(out, bytes);
        if (!at_end) return fail(std::move(at_end).error());
        if (!*at_end) return out;  // batch full: the rest next time
        auto changed = change();
        if (!changed) return fail(std::move(changed).error());
        if (*changed == Change::none) return out;
        if (*changed == Change::replaced) {
            // The writer closes a file before renaming it, so whatever it wrote
            // to the old file is readable now, even what came after our read.
            auto drained = read_lines(out, bytes);
            if (!drained) return fail(std::move(drained).error());
            if (!*drained) return out;  // batch full: we come back to this file
            auto next = open_successor();
            if (!next) return fail(std::move(next).error());
            if (*next < 0) return out;  // not created yet: we keep the old file until it is
            close_file();
            fd_ = *next;
            struct stat st {};
            if (::fstat(fd_, &st) != 0) return fail(sys_error("stat log " + path_));
            dev_ = st.st_dev;
            ino_ = st.st_ino;
        }
        offset_ = 0;
        // The old file's unterminated last line will never be finished.
        if (!partial_.empty()) {
            bytes += partial_.size();
            out.push_back(std::move(partial_));
            partial_.clear();
        }
    }
    return out;
}

Task<Result<std::vector<std::string>>> LogFollower::next(std::stop_token stop) {
    if (stop.stop_requested()) co_return fail(Errc::cancelled);
    bool waited = false;
    for (;;) {
        auto got = poll();
        if (!got || !got->empty()) {
            if (!waited) {
                // Lines were there at once: still give the loop a turn, or a
                // caller following a flood would never let a signal or a
                // timer through.
                YieldAwaiter yield;
                co_await yield;
            }
            co_return std::move(got);
        }
        auto woke = co_await watch_.changed(stop);
        if (!woke) co_return fail(std::move(woke).error());
        waited = true;
    }
}

}  // namespace reins::control
