// LogWriter: every service's output and reins' own events about it, to one
// rotated log file per service (docs/cli.md, Logs):
//
//   2026-11-22T10:15:03.123Z out <line>
//   2026-11-22T10:15:03.124Z err+ <piece after the first of a long line>
//   2026-11-22T10:15:03.200Z reins running (ready: tcp 127.0.0.1:8000)
//
// Output arrives in batches (the lines of one pipe read, one timestamp for
// all): a line costs an append to the service's pending text. That text is
// written once it reaches 128 KiB, else before the loop next waits for I/O
// (a uv_prepare handle, active only while something is buffered: no timer,
// no idle wakeups), so a flood costs about one write(2) per pipe read, not
// one per line, the buffer stays under 128 KiB plus a line, and a quiet
// service's last line is in the file at once.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "reins/control/log_file.hpp"
#include "reins/supervisor/output.hpp"
#include "reins/supervisor/service_state.hpp"

namespace reins::control {

/// Where one service's log goes.
struct LogTarget {
    std::string path;
    uint64_t max_size = 10ull * 1024 * 1024;
    int keep = 5;
};

class LogWriter : public supervisor::OutputSink {
public:
    /// `target_of(service)` says where a service's log goes (asked once per
    /// service). `on_error` hears about write failures (full disk…) once per
    /// failure streak, and when writing works again. Nothing is dropped:
    /// while a log cannot be written, write() holds its batch and retries
    /// (50 ms doubling to 1 s), so the capture stops reading and the service
    /// blocks on its pipe; memory stays at one batch per service.
    LogWriter(std::function<LogTarget(const std::string&)> target_of,
              std::function<void(const std::string&)> on_error = {});
    ~LogWriter() override;
    LogWriter(const LogWriter&) = delete;
    LogWriter& operator=(const LogWriter&) = delete;

    Task<void> write(supervisor::OutputBatch batch) override;
    using OutputSink::write;  // one OutputLine
    /// Writes a "reins <what>" line to a service's log.
    void note(const std::string& service, const std::string& what);
    /// Writes a transition as a "reins" line.
    void event(const supervisor::ServiceEvent& e);
    /// Writes everything buffered now.
    void flush();
    /// Why `service`'s log cannot be written right now ("" while it can).
    std::string stalled(std::string_view service) const;
    /// Closes every log file: the lines still buffered and all later ones
    /// go to the files found at their paths then (created again after the
    /// state directory was removed).
    void reopen();

    /// "2026-11-22T10:15:03.123Z" for a time point.
    static std::string timestamp(std::chrono::system_clock::time_point t);
    /// The same into `out` (no allocation); returns its length (24).
    static std::size_t format_timestamp(std::chrono::system_clock::time_point t, char (&out)[32]);

private:
    struct Log {
        LogFile file;
        std::string pending;  // lines (or what is left of them) not yet written
        std::string stalled;  // the last write error, "" while writing works
    };
    Log& log_of(std::string_view service);
    // Appends "<prefix><text>\n", rotating first when the line would not
    // fit; `prefix` is "<stamp> <tag> ".
    void add(Log& log, std::string_view prefix, std::string_view text);
    void write_out(Log& log);
    void arm();

    std::function<LogTarget(const std::string&)> target_of_;
    std::function<void(const std::string&)> on_error_;
    std::map<std::string, std::unique_ptr<Log>, std::less<>> logs_;
    struct Flusher;
    Flusher* flusher_;
};

}  // namespace reins::control
