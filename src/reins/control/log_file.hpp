// LogFile: an append-only log file rotated by size (docs/cli.md, Logs).
//
// Before a write that would take the file past max_size, api.log becomes
// api.log.1, api.log.1 becomes api.log.2, … up to api.log.<keep> (the oldest
// is deleted), and a new api.log is opened. No file exceeds max_size except
// by one line longer than it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "reins/async/result.hpp"

namespace reins::control {

class LogFile {
public:
    LogFile(std::string path, uint64_t max_size, int keep);
    ~LogFile();
    LogFile(LogFile&& o) noexcept;
    LogFile& operator=(LogFile&&) = delete;
    LogFile(const LogFile&) = delete;

    /// Appends `lines` (whole lines, each ending in '\n'), rotating first if
    /// they would not fit. Creates the file (and its folder) on first use.
    /// `written`, when given, receives how many bytes reached the file, also
    /// when the write failed part way (a full disk): the rest is to retry.
    Result<void> append(std::string_view lines, std::size_t* written = nullptr);
    /// Rotates now (the current file becomes .1).
    Result<void> rotate();
    /// Closes the file; the next append opens whatever is at path() then
    /// (creating it and its folder). For a file removed under us, so that
    /// the next lines do not go to a deleted inode.
    void reopen() noexcept;

    const std::string& path() const noexcept { return path_; }
    uint64_t size() const noexcept { return size_; }
    uint64_t max_size() const noexcept { return max_size_; }
    /// Would appending `n` bytes take a non-empty file past max_size?
    bool would_overflow(uint64_t n) const noexcept { return size_ > 0 && size_ + n > max_size_; }

private:
    Result<void> open();

    std::string path_;
    uint64_t max_size_;
    int keep_;
    int fd_ = -1;
    uint64_t size_ = 0;
};

/// Creates `dir` and its missing parents with `mode` (like mkdir -p).
Result<void> make_dirs(const std::string& dir, unsigned mode = 0700);

}  // namespace reins::control
