// Reading service logs back (docs/cli.md, Logs): the last lines of a
// rotated log, several services merged by time, and following a log as it
// grows and rotates.
//
// Logs are written by LogFile/LogWriter as
//   2026-11-22T10:15:03.123Z out|err|out+|err+|reins <text>
// and rotated NAME.log -> NAME.log.1 -> ... -> NAME.log.<keep>. Readers never
// take a lock: they rely on the writer closing a file before renaming it.
#pragma once

#include <cstdint>
#include <limits>
#include <stop_token>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

#include "reins/async/file_watch.hpp"
#include "reins/async/result.hpp"
#include "reins/async/task.hpp"

namespace reins::control {

/// One stored log line, split into its parts.
struct LogLine {
    std::string service;  ///< whose log it came from
    std::string stamp;    ///< "2026-11-22T10:15:03.123Z"; empty when the line is not in the log format
    std::string tag;      ///< "out", "err", "out+", "err+", "reins"; empty when not in the format
    std::string text;     ///< what follows the tag (the whole line when not in the format)
    std::string raw;      ///< the line as stored, without its '\n'
};

/// Splits a stored line (without '\n'). A line not in the log format keeps
/// `raw` (and `text`) with an empty stamp and tag.
LogLine parse_log_line(std::string service, std::string raw);

/// No limit for tail_lines' `end`.
inline constexpr std::uint64_t whole_file = std::numeric_limits<std::uint64_t>::max();

/// The last `n` lines of the log at `path`, oldest first, as stored (without
/// their '\n'; an unterminated last line counts as a line). Reads blocks
/// backwards from the end of `path` (only its first `end` bytes), then of
/// `path.1`, `path.2` ... `path.<keep>`, and stops as soon as it has `n`
/// lines: the cost depends on `n`, not on the size of the files. Missing
/// files add nothing (no log yet is an empty result); other failures name
/// the file.
Result<std::vector<std::string>> tail_lines(const std::string& path, int keep, std::size_t n,
                                            std::uint64_t end = whole_file);

/// Merges services' lines ({service, lines oldest first}) by timestamp and
/// returns the last `n`. Stable: lines with equal stamps keep their order
/// within a service and the services' order between them. A line without a
/// stamp sorts with the line before it in its service.
std::vector<LogLine> merge_by_time(std::vector<std::pair<std::string, std::vector<std::string>>> per_service,
                                   std::size_t n);

/// Follows one log file as it grows, across rotations, without polling: it
/// waits on an inotify watch of the log's folder, so it sees the file being
/// written, renamed away and created again. Move-only; must not be moved or
/// destroyed while next() is awaited.
class LogFollower {
public:
    /// At most this many bytes of lines are returned by one next().
    static constexpr std::size_t max_batch = 1u << 20;

    /// Starts following `path` at the end of its last complete line (a
    /// partial last line is returned by next() once it is finished), or at
    /// the start of the file when it does not exist yet. The log's folder
    /// must exist. Failures name the path.
    static Result<LogFollower> open(std::string path);
    ~LogFollower();
    LogFollower(LogFollower&& o) noexcept;
    LogFollower& operator=(LogFollower&&) = delete;
    LogFollower(const LogFollower&) = delete;
    LogFollower& operator=(const LogFollower&) = delete;

    /// The complete lines written since the previous call (without '\n'),
    /// waiting until there is at least one. When the file was rotated
    /// (replaced, removed, or truncated), the rest of the old file comes
    /// first, then the new file from its start: no line is lost or repeated.
    /// Errc::cancelled on stop.
    Task<Result<std::vector<std::string>>> next(std::stop_token stop = {});

    /// What next() would return now, without waiting (may be empty).
    Result<std::vector<std::string>> poll();

    const std::string& path() const noexcept { return path_; }
    /// Where following began in the file at path() (the byte after its last
    /// complete line at open()): pass it as tail_lines' `end` to print the
    /// backlog without repeating what next() will return.
    std::uint64_t start() const noexcept { return start_; }

private:
    enum class Change { none, truncated, replaced };
    LogFollower(std::string path, FileWatch watch) : path_(std::move(path)), watch_(std::move(watch)) {}
    Result<bool> open_file();
    Result<bool> read_lines(std::vector<std::string>& out, std::size_t& bytes);
    Result<Change> change() const;
    int rotated_index(int* last) const;
    Result<int> open_successor() const;
    void close_file() noexcept;

    std::string path_;
    FileWatch watch_;
    int fd_ = -1;
    dev_t dev_ = 0;
    ino_t ino_ = 0;
    std::uint64_t offset_ = 0;  // next byte to read in fd_
    std::uint64_t start_ = 0;
    std::string partial_;       // bytes of a line whose '\n' has not come yet
};

}  // namespace reins::control
