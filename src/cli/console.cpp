#include "cli/console.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace reins::cli {

namespace {
void write_all(int fd, const std::string& s) {
    const char* p = s.data();
    std::size_t left = s.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // a closed terminal or pipe: output is lost, supervision goes on
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}
// Console::write hands the terminal whole lines in writes of about this
// size: one write(2) for a pipe read's worth of lines (64 KiB plus the
// prefixes), and a batch of empty lines (a prefix each) does not swell
// the buffer.
constexpr std::size_t write_size = 128 * 1024;
const char* const palette[] = {"\x1b[36m", "\x1b[33m", "\x1b[32m", "\x1b[35m", "\x1b[34m",
                               "\x1b[96m", "\x1b[93m", "\x1b[92m", "\x1b[95m", "\x1b[94m"};
}  // namespace

Console::Console(const std::vector<std::string>& names) {
    bool no_color = std::getenv("NO_COLOR") != nullptr;
    color_ = ::isatty(STDOUT_FILENO) == 1 && !no_color;
    tty_err_ = ::isatty(STDERR_FILENO) == 1;
    for (const auto& n : names) {
        width_ = std::max(width_, n.size());
        index_.emplace(n, index_.size());
    }
}

std::string_view Console::color_of(std::string_view name) const {
    auto it = index_.find(name);
    std::size_t i = it == index_.end() ? std::hash<std::string_view>{}(name) : it->second;
    return palette[i % (sizeof palette / sizeof palette[0])];
}

void Console::clear_progress() {
    if (!progress_shown_) return;
    write_all(STDERR_FILENO, "\r\x1b[K");
    progress_shown_ = false;
}

Task<void> Console::write(supervisor::OutputBatch batch) {
    clear_progress();
    // "NAME | " (padded, colored on a TTY) once, then before every line.
    std::string prefix;
    if (color_) prefix.append(color_of(batch.service));
    prefix.append(batch.service);
    if (batch.service.size() < width_) prefix.append(width_ - batch.service.size(), ' ');
    if (color_) prefix += "\x1b[0m";
    prefix += color_ && batch.err ? " \x1b[31m|\x1b[0m " : " | ";
    out_.clear();
    for (std::size_t i = 0; i < batch.size(); ++i) {
        out_.append(prefix).append(batch.text(i)).push_back('\n');
        if (out_.size() >= write_size) {
            write_all(STDOUT_FILENO, out_);
            out_.clear();
        }
    }
    write_all(STDOUT_FILENO, out_);
    co_return;
}

void Console::say(const std::string& text) {
    clear_progress();
    write_all(STDERR_FILENO, "reins: " + text + "\n");
}

void Console::progress(const std::string& text) {
    if (!tty_err_) return;
    if (text.empty()) {
        clear_progress();
        return;
    }
    write_all(STDERR_FILENO, "\r\x1b[Kreins: " + text);
    progress_shown_ = true;
}

std::string Console::ready_line(const std::string& name, int port, int pid, double seconds) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.2fs", seconds);
    std::string out = name + " ready";
    if (port > 0) out += " on http://127.0.0.1:" + std::to_string(port);
    out += " (pid " + std::to_string(pid) + ", " + secs + ")";
    return out;
}

std::string Console::started_line(const std::string& name, int port, int pid) {
    std::string out = name + " started";
    if (port > 0) out += " on port " + std::to_string(port);
    return out + " (pid " + std::to_string(pid) + ")";
}

}  // namespace reins::cli
