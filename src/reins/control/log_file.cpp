#include "reins/control/log_file.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

#include <uv.h>

namespace reins::control {
namespace {

Error sys_error(const std::string& what) { return uv_error(uv_translate_sys_error(errno), what); }

}  // namespace

Result<void> make_dirs(const std::string& dir, unsigned mode) {
    if (dir.empty()) return {};
    std::string partial;
    std::size_t pos = 0;
    while (pos != std::string::npos) {
        pos = dir.find('/', pos + 1);
        partial = dir.substr(0, pos);
        if (partial.empty()) continue;
        if (::mkdir(partial.c_str(), mode) != 0 && errno != EEXIST)
            return fail(sys_error("create folder " + partial));
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return fail(uv_error(UV_ENOTDIR, "create folder " + dir + ": a file of that name is in the way"));
    return {};
}

LogFile::LogFile(std::string path, uint64_t max_size, int keep)
    : path_(std::move(path)), max_size_(max_size), keep_(keep < 0 ? 0 : keep) {}

LogFile::~LogFile() {
    if (fd_ >= 0) ::close(fd_);
}

LogFile::LogFile(LogFile&& o) noexcept
    : path_(std::move(o.path_)), max_size_(o.max_size_), keep_(o.keep_), fd_(std::exchange(o.fd_, -1)),
      size_(o.size_) {}

Result<void> LogFile::open() {
    if (fd_ >= 0) return {};
    auto slash = path_.rfind('/');
    if (slash != std::string::npos && slash > 0) {
        auto made = make_dirs(path_.substr(0, slash));
        if (!made) return made;
    }
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0) return fail(sys_error("open log " + path_));
    struct stat st {};
    size_ = ::fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
    return {};
}

void LogFile::reopen() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    size_ = 0;  // open() reads the size of the file it finds
}

Result<void> LogFile::rotate() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    if (keep_ == 0) {
        if (::unlink(path_.c_str()) != 0 && errno != ENOENT) return fail(sys_error("rotate " + path_));
    } else {
        // api.log.<keep> is deleted by the rename over it.
        for (int i = keep_ - 1; i >= 1; --i) {
            std::string from = path_ + "." + std::to_string(i), to = path_ + "." + std::to_string(i + 1);
            if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) return fail(sys_error("rotate " + from));
        }
        std::string first = path_ + ".1";
        if (::rename(path_.c_str(), first.c_str()) != 0 && errno != ENOENT) return fail(sys_error("rotate " + path_));
    }
    size_ = 0;
    return open();
}

Result<void> LogFile::append(std::string_view lines, std::size_t* written) {
    if (written) *written = 0;
    auto opened = open();
    if (!opened) return opened;
    if (would_overflow(lines.size())) {
        auto r = rotate();
        if (!r) return r;
    }
    while (!lines.empty()) {
        ssize_t n = ::write(fd_, lines.data(), lines.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(sys_error("write log " + path_));
        }
        lines.remove_prefix(static_cast<std::size_t>(n));
        size_ += static_cast<uint64_t>(n);
        if (written) *written += static_cast<std::size_t>(n);
    }
    return {};
}

}  // namespace reins::control
