#include "reins/control/log_writer.hpp"

#include <ctime>

#include <uv.h>

#include "reins/async/loop.hpp"

namespace reins::control {

// The uv_check_t lives on the heap and is freed by its close callback.
struct LogWriter::Check {
    uv_check_t handle{};
    LogWriter* owner = nullptr;
};

namespace {
constexpr std::size_t batch_limit = 64 * 1024;
}

LogWriter::LogWriter(std::function<LogTarget(const std::string&)> target_of,
                     std::function<void(const std::string&)> on_error)
    : target_of_(std::move(target_of)), on_error_(std::move(on_error)), check_(new Check) {
    check_->owner = this;
    check_->handle.data = check_;
    uv_check_init(Loop::current().uv(), &check_->handle);
}

LogWriter::~LogWriter() {
    flush();
    check_->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&check_->handle),
             [](uv_handle_t* h) { delete static_cast<Check*>(h->data); });
}

std::string LogWriter::timestamp(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    // One gmtime_r a second: a flood of lines shares the formatted prefix.
    thread_local time_t cached_sec = -1;
    thread_local char cached[32];
    auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
    time_t sec = static_cast<time_t>(ms / 1000);
    if (sec != cached_sec) {
        std::tm tm{};
        gmtime_r(&sec, &tm);
        std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = sec;
    }
    char out[40];
    std::snprintf(out, sizeof out, "%s.%03dZ", cached, static_cast<int>(ms % 1000));
    return out;
}

LogWriter::Log& LogWriter::log_of(const std::string& service) {
    auto it = logs_.find(service);
    if (it == logs_.end()) {
        LogTarget t = target_of_(service);
        it = logs_.emplace(service, std::make_unique<Log>(Log{LogFile(t.path, t.max_size, t.keep), {}, false})).first;
    }
    return *it->second;
}

void LogWriter::add(Log& log, std::string_view stamp, std::string_view tag, std::string_view text) {
    std::size_t n = stamp.size() + tag.size() + text.size() + 3;
    // Rotation is decided line by line, counting what is still buffered: a
    // line that would take the file past its size starts a new file.
    uint64_t used = log.file.size() + log.pending.size();
    if (used > 0 && used + n > log.file.max_size()) {
        write_out(log);
        auto r = log.file.rotate();
        if (!r && on_error_) on_error_(r.error().message());
    }
    log.pending.append(stamp).append(" ").append(tag).append(" ").append(text).append("\n");
    if (log.pending.size() >= batch_limit) write_out(log);
    else arm();
}

void LogWriter::write_out(Log& log) {
    if (log.pending.empty()) return;
    auto r = log.file.append(log.pending);
    log.pending.clear();
    if (!r) {
        if (!log.failing && on_error_) on_error_(r.error().message() + " — lines are dropped until it works again");
        log.failing = true;
    } else {
        log.failing = false;
    }
}

void LogWriter::arm() {
    auto* h = &check_->handle;
    if (uv_is_active(reinterpret_cast<uv_handle_t*>(h))) return;
    uv_check_start(h, [](uv_check_t* c) {
        auto* chk = static_cast<Check*>(c->data);
        uv_check_stop(c);
        if (chk->owner) chk->owner->flush();
    });
}

void LogWriter::flush() {
    for (auto& [name, log] : logs_) write_out(*log);
}

Task<void> LogWriter::write(supervisor::OutputLine line) {
    Log& log = log_of(line.service);
    std::string_view tag = line.err ? (line.continuation ? "err+" : "err") : (line.continuation ? "out+" : "out");
    add(log, timestamp(line.time), tag, line.text);
    co_return;
}

void LogWriter::note(const std::string& service, const std::string& what) {
    add(log_of(service), timestamp(std::chrono::system_clock::now()), "reins", what);
}

void LogWriter::event(const supervisor::ServiceEvent& e) {
    std::string what(supervisor::to_string(e.to));
    if (!e.reason.empty()) what += " (" + e.reason + ")";
    note(e.service, what);
}

}  // namespace reins::control
