// tail_lines, parse_log_line and merge_by_time (LogFollower: log_follower.cpp).
#include "reins/control/log_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

namespace reins::control {
namespace {

constexpr std::size_t block_size = 64 * 1024;

Error sys_error(const std::string& what) { return uv_error(uv_translate_sys_error(errno), what); }

/// Closes an fd when it goes out of scope.
struct FdCloser {
    int fd;
    ~FdCloser() {
        if (fd >= 0) ::close(fd);
    }
};

/// Reads exactly `len` bytes at `pos` (fewer only at the end of the file).
Result<std::size_t> read_at(int fd, char* buf, std::size_t len, std::uint64_t pos, const std::string& path) {
    std::size_t got = 0;
    while (got < len) {
        ssize_t n = ::pread(fd, buf + got, len - got, static_cast<off_t>(pos + got));
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(sys_error("read log " + path));
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    return got;
}

/// A line whose first bytes are `head`, followed by `rest` (pieces read
/// earlier while going backwards: rest[0] is the last piece of the line).
std::string join_line(std::string_view head, std::vector<std::string>& rest) {
    std::size_t total = head.size();
    for (const auto& r : rest) total += r.size();
    std::string line;
    line.reserve(total);
    line.append(head);
    for (auto it = rest.rbegin(); it != rest.rend(); ++it) line += *it;
    rest.clear();
    return line;
}

/// Adds up to `need` more lines of the first `size` bytes of `fd` to
/// `newest_first`, reading 64 KiB blocks from the end towards the start.
Result<void> lines_backwards(int fd, std::uint64_t size, std::size_t need, std::vector<std::string>& newest_first,
                             const std::string& path) {
    std::vector<std::string> rest;  // the line being assembled, whose start is not read yet
    std::string buf;
    std::uint64_t pos = size;
    std::size_t added = 0;
    while (pos > 0) {
        auto len = static_cast<std::size_t>(std::min<std::uint64_t>(block_size, pos));
        pos -= len;
        buf.resize(len);
        auto got = read_at(fd, buf.data(), len, pos, path);
        if (!got) return fail(std::move(got).error());
        if (*got < len) {
            // The file shrank under us (truncated): what is left is all there is.
            return fail(uv_error(UV_EAGAIN, "read log " + path + ": the file was truncated while being read"));
        }
        std::size_t end = len;  // bytes [end, len) belong to lines already taken
        for (std::size_t i = len; i-- > 0;) {
            if (buf[i] != '\n') continue;
            // The file's last byte ends its last line; it starts no empty line.
            if (pos + i + 1 == size) {
                end = i;
                continue;
            }
            newest_first.push_back(join_line(std::string_view(buf).substr(i + 1, end - i - 1), rest));
            end = i;
            if (++added == need) return {};
        }
        rest.push_back(buf.substr(0, end));
    }
    if (size > 0) newest_first.push_back(join_line({}, rest));  // the file's first line
    return {};
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// "2026-11-22T10:15:03.123Z"
bool is_stamp(std::string_view s) {
    static constexpr std::string_view shape = "0000-00-00T00:00:00.000Z";
    if (s.size() != shape.size()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (shape[i] == '0' ? !is_digit(s[i]) : s[i] != shape[i]) return false;
    }
    return true;
}

}  // namespace

LogLine parse_log_line(std::string service, std::string raw) {
    LogLine line{std::move(service), {}, {}, {}, std::move(raw)};
    std::string_view v = line.raw;
    constexpr std::size_t stamp_len = 24;
    if (v.size() > stamp_len + 1 && v[stamp_len] == ' ' && is_stamp(v.substr(0, stamp_len))) {
        std::string_view rest = v.substr(stamp_len + 1);
        std::size_t space = rest.find(' ');
        std::string_view tag = rest.substr(0, space);
        if (!tag.empty()) {
            line.stamp = std::string(v.substr(0, stamp_len));
            line.tag = std::string(tag);
            line.text = space == std::string_view::npos ? std::string() : std::string(rest.substr(space + 1));
            return line;
        }
    }
    line.text = line.raw;
    return line;
}

Result<std::vector<std::string>> tail_lines(const std::string& path, int keep, std::size_t n, std::uint64_t end) {
    std::vector<std::string> newest_first;
    for (int i = 0; i <= std::max(keep, 0) && newest_first.size() < n; ++i) {
        std::string file = i == 0 ? path : path + "." + std::to_string(i);
        // O_NONBLOCK: a FIFO in the log's place must not block the open.
        int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            if (errno == ENOENT) continue;
            return fail(sys_error("open log " + file));
        }
        FdCloser closer{fd};
        struct stat st {};
        if (::fstat(fd, &st) != 0) return fail(sys_error("stat log " + file));
        if (!S_ISREG(st.st_mode))
            return fail(uv_error(UV_EINVAL, "read log " + file + ": not a regular file; remove it or point logs.file elsewhere"));
        auto size = static_cast<std::uint64_t>(st.st_size);
        if (i == 0) size = std::min(size, end);
        auto r = lines_backwards(fd, size, n - newest_first.size(), newest_first, file);
        if (!r) return fail(std::move(r).error());
    }
    std::reverse(newest_first.begin(), newest_first.end());
    return newest_first;
}

std::vector<LogLine> merge_by_time(std::vector<std::pair<std::string, std::vector<std::string>>> per_service,
                                   std::size_t n) {
    struct Source {
        std::vector<LogLine> lines;
        std::vector<std::string> keys;  // sort key of each line: its stamp, else the one before
        std::size_t next = 0;
    };
    std::vector<Source> sources;
    std::size_t total = 0;
    for (auto& [service, raw] : per_service) {
        Source s;
        std::string key;
        for (auto& r : raw) {
            s.lines.push_back(parse_log_line(service, std::move(r)));
            if (!s.lines.back().stamp.empty()) key = s.lines.back().stamp;
            s.keys.push_back(key);
        }
        total += s.lines.size();
        sources.push_back(std::move(s));
    }
    // A k-way merge: taking only heads keeps each service's order, and the
    // strict < keeps the earlier service first on equal stamps.
    std::vector<LogLine> merged;
    merged.reserve(total);
    for (;;) {
        Source* best = nullptr;
        for (auto& s : sources) {
            if (s.next == s.lines.size()) continue;
            if (!best || s.keys[s.next] < best->keys[best->next]) best = &s;
        }
        if (!best) break;
        merged.push_back(std::move(best->lines[best->next++]));
    }
    if (merged.size() > n) merged.erase(merged.begin(), merged.end() - static_cast<std::ptrdiff_t>(n));
    return merged;
}

}  // namespace reins::control
