#include "reins/control/log_writer.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>

#include <uv.h>

#include "reins/async/close_handle.hpp"
#include "reins/async/loop.hpp"
#include "reins/async/timer.hpp"

namespace reins::control {

// The uv_prepare_t lives on the heap and is freed by its close callback.
// Prepare, not check: it runs before the loop blocks for I/O, so a quiet
// service's last lines are written at once, not when something next wakes
// the loop (a check handle runs after the poll).
struct LogWriter::Flusher {
    uv_prepare_t handle{};
    LogWriter* owner = nullptr;
};

namespace {
// Pending text is written once it reaches this: one pipe read (64 KiB of
// output, ~85 KB as log lines with short lines) is then about one write(2).
constexpr std::size_t write_threshold = 128 * 1024;

// "<stamp> <tag> " into `buf`, without an allocation.
std::string_view prefix_into(char (&buf)[64], std::string_view stamp, std::string_view tag) {
    std::size_t n = 0;
    std::memcpy(buf, stamp.data(), stamp.size());
    n += stamp.size();
    buf[n++] = ' ';
    std::memcpy(buf + n, tag.data(), tag.size());
    n += tag.size();
    buf[n++] = ' ';
    return std::string_view(buf, n);
}
}  // namespace

LogWriter::LogWriter(std::function<LogTarget(const std::string&)> target_of,
                     std::function<void(const std::string&)> on_error)
    : target_of_(std::move(target_of)), on_error_(std::move(on_error)), flusher_(new Flusher) {
    flusher_->owner = this;
    flusher_->handle.data = flusher_;
    uv_prepare_init(Loop::current().uv(), &flusher_->handle);
}

LogWriter::~LogWriter() {
    flush();
    flusher_->owner = nullptr;
    reins::detail::close_and_delete<Flusher>(&flusher_->handle);
}

std::size_t LogWriter::format_timestamp(std::chrono::system_clock::time_point t, char (&out)[32]) {
    using namespace std::chrono;
    // One gmtime_r a second: a flood of batches shares the formatted date.
    thread_local time_t cached_sec = -1;
    thread_local char cached[24];
    const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
    auto sec = static_cast<time_t>(ms / 1000);
    auto milli = static_cast<int>(ms % 1000);
    if (milli < 0) {  // before 1970: floor, not truncation
        milli += 1000;
        --sec;
    }
    if (sec != cached_sec) {
        std::tm tm{};
        gmtime_r(&sec, &tm);
        std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = sec;
    }
    const std::size_t n = std::strlen(cached);
    std::memcpy(out, cached, n);
    out[n] = '.';
    out[n + 1] = static_cast<char>('0' + milli / 100);
    out[n + 2] = static_cast<char>('0' + milli / 10 % 10);
    out[n + 3] = static_cast<char>('0' + milli % 10);
    out[n + 4] = 'Z';
    out[n + 5] = '\0';
    return n + 5;
}

std::string LogWriter::timestamp(std::chrono::system_clock::time_point t) {
    char out[32];
    const std::size_t n = format_timestamp(t, out);
    return std::string(out, n);
}

LogWriter::Log& LogWriter::log_of(std::string_view service) {
    auto it = logs_.find(service);
    if (it == logs_.end()) {
        std::string name(service);
        LogTarget t = target_of_(name);
        it = logs_.emplace(std::move(name), std::make_unique<Log>(Log{LogFile(t.path, t.max_size, t.keep), {}, {}}))
                 .first;
    }
    return *it->second;
}

void LogWriter::add(Log& log, std::string_view prefix, std::string_view text) {
    const std::size_t n = prefix.size() + text.size() + 1;
    // Rotation is decided line by line, counting what is still buffered: a
    // line that would take the file past its size starts a new file.
    const uint64_t used = log.file.size() + log.pending.size();
    if (used > 0 && used + n > log.file.max_size()) {
        write_out(log);
        auto r = log.file.rotate();
        if (!r && on_error_) on_error_(r.error().message());
    }
    log.pending.append(prefix).append(text).push_back('\n');
    // Written in pieces as it grows: a batch of empty lines (30 bytes of
    // log each) must not swell the buffer.
    if (log.pending.size() >= write_threshold) write_out(log);
}

void LogWriter::write_out(Log& log) {
    if (log.pending.empty()) return;
    std::size_t written = 0;
    auto r = log.file.append(log.pending, &written);
    // What did not reach the file stays pending, to retry: nothing is dropped.
    log.pending.erase(0, written);
    if (!r) {
        if (log.stalled.empty() && on_error_)
            on_error_(r.error().message() + " — the service's output waits until it can be written");
        log.stalled = r.error().message();
    } else {
        if (!log.stalled.empty() && on_error_) on_error_(log.file.path() + ": writing again");
        log.stalled.clear();
    }
}

std::string LogWriter::stalled(std::string_view service) const {
    auto it = logs_.find(service);
    return it == logs_.end() ? std::string() : it->second->stalled;
}

void LogWriter::arm() {
    auto* h = &flusher_->handle;
    if (uv_is_active(reinterpret_cast<uv_handle_t*>(h))) return;
    uv_prepare_start(h, [](uv_prepare_t* p) {
        auto* f = static_cast<Flusher*>(p->data);
        uv_prepare_stop(p);
        if (f->owner) f->owner->flush();
    });
}

void LogWriter::flush() {
    for (auto& [name, log] : logs_) write_out(*log);
}

void LogWriter::reopen() {
    // A stalled log stays stalled until its next write works (write_out says).
    for (auto& [name, log] : logs_) log->file.reopen();
}

Task<void> LogWriter::write(supervisor::OutputBatch batch) {
    Log& log = log_of(batch.service);
    // "<stamp> out " and "<stamp> out+ ", made once for the whole batch.
    char stamp_buf[32];
    const std::string_view stamp(stamp_buf, format_timestamp(batch.time, stamp_buf));
    char first_buf[64], rest_buf[64];
    const std::string_view first = prefix_into(first_buf, stamp, batch.err ? "err" : "out");
    const std::string_view rest = prefix_into(rest_buf, stamp, batch.err ? "err+" : "out+");
    for (std::size_t i = 0; i < batch.size(); ++i) add(log, batch.continuation(i) ? rest : first, batch.text(i));
    if (!log.pending.empty()) arm();
    // The file cannot be written (a full disk): hold this batch — the capture
    // reads no more, the service blocks on its pipe — and retry until it can,
    // or the run is stopped (what is pending is then kept and written later).
    auto wait = std::chrono::milliseconds(50);
    while (!log.stalled.empty() && !batch.stop.stop_requested()) {
        auto slept = co_await sleep(wait, batch.stop);
        if (!slept) break;
        write_out(log);
        wait = std::min(wait * 2, std::chrono::milliseconds(1000));
    }
}

void LogWriter::note(const std::string& service, const std::string& what) {
    char stamp_buf[32];
    const std::string_view stamp(stamp_buf, format_timestamp(std::chrono::system_clock::now(), stamp_buf));
    char prefix_buf[64];
    Log& log = log_of(service);
    add(log, prefix_into(prefix_buf, stamp, "reins"), what);
    if (!log.pending.empty()) arm();
}

void LogWriter::event(const supervisor::ServiceEvent& e) {
    std::string what(supervisor::to_string(e.to));
    if (!e.reason.empty()) what += " (" + e.reason + ")";
    note(e.service, what);
}

}  // namespace reins::control
