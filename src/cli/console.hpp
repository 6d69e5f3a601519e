// What `reins run` prints (docs/cli.md, Foreground): every service line as `NAME | line`
// (name column aligned; on a TTY one color per service and stderr lines
// with a red separator), the ready (or started) lines, and a one-line progress
// indicator while a readiness wait passes 2 s. Each batch of lines is one
// write(2) of whole lines, so lines of different services never
// interleave mid-line.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "reins/supervisor/output.hpp"
#include "reins/supervisor/service_state.hpp"

namespace reins::cli {

class Console : public supervisor::OutputSink {
public:
    /// `names`: every service that may print (for the alignment).
    explicit Console(const std::vector<std::string>& names);

    Task<void> write(supervisor::OutputBatch batch) override;
    using OutputSink::write;  // one OutputLine
    /// "reins: TEXT" on stderr (clearing the progress line first).
    void say(const std::string& text);
    /// Shows (or replaces) the progress line on a TTY; empty clears it.
    void progress(const std::string& text);
    bool tty() const noexcept { return tty_err_; }

    /// "web ready on http://127.0.0.1:5173 (pid 4242, 0.84s)": a readiness check passed.
    static std::string ready_line(const std::string& name, int port, int pid, double seconds);
    /// "web started on port 5173 (pid 4242)": running with no readiness check,
    /// so nothing is known but that it was spawned.
    static std::string started_line(const std::string& name, int port, int pid);

private:
    void clear_progress();
    std::string_view color_of(std::string_view name) const;

    std::size_t width_ = 0;
    bool color_ = false;    // stdout colors
    bool tty_err_ = false;  // stderr is a terminal (progress line)
    bool progress_shown_ = false;
    std::map<std::string, std::size_t, std::less<>> index_;
    std::string out_;  // the batch being formatted (its capacity is kept)
};

}  // namespace reins::cli
