// FileWatch: awaiting changes to a file or a directory (inotify through
// uv_fs_event_t).
//
// A watch costs nothing while nothing changes: no timer, no polling, the
// kernel wakes the loop. Changes that happen while nobody awaits are kept as
// one pending flag, so a consumer that reads, then awaits, never misses the
// change that came in between (it may see one spurious wake instead).
#pragma once

#include <coroutine>
#include <stop_token>
#include <string>

#include "reins/async/completion.hpp"
#include "reins/async/result.hpp"
#include "reins/async/task.hpp"

namespace reins {

/// Watches one file or directory. Move-only; the uv handle lives on the heap
/// and is freed by its close callback, so a FileWatch may be destroyed at any
/// time, even while awaited (the waiter then completes with Errc::cancelled).
/// The watch keeps the loop alive only while someone awaits changed().
class FileWatch {
public:
    /// Starts watching `path` (a file: writes, attribute changes, rename,
    /// deletion; a directory: the same for the directory and every entry in
    /// it, plus creation and renames of entries). With `only_name`, events
    /// about other entries of a watched directory are ignored (a log follower
    /// watching logs/ for api.log is not woken by web.log). Fails, naming the
    /// path, when it does not exist or cannot be watched.
    static Result<FileWatch> watch(std::string path, std::string only_name = {});
    ~FileWatch();
    FileWatch(FileWatch&& o) noexcept;
    FileWatch& operator=(FileWatch&& o) noexcept;
    FileWatch(const FileWatch&) = delete;
    FileWatch& operator=(const FileWatch&) = delete;

    /// Completes at the next change since the previous call returned (at
    /// once when one is pending), with Errc::cancelled on stop or when the
    /// watch is destroyed, or with the error libuv reported. One caller at a
    /// time; the FileWatch may be moved only while nobody awaits.
    Task<Result<void>> changed(std::stop_token stop = {});

    /// The path given to watch().
    const std::string& path() const noexcept;

    struct State;
    class ChangedAwaiter;

private:
    explicit FileWatch(State* st) noexcept : state_(st) {}
    void release() noexcept;
    State* state_ = nullptr;
};

/// Awaits one change of a FileWatch::State (what changed() awaits).
class FileWatch::ChangedAwaiter {
public:
    ChangedAwaiter(State* st, std::stop_token stop) : st_(st), stop_(std::move(stop)) {}
    ChangedAwaiter(const ChangedAwaiter&) = delete;
    ChangedAwaiter& operator=(const ChangedAwaiter&) = delete;
    ~ChangedAwaiter();

    bool await_ready();
    void await_suspend(std::coroutine_handle<> h);
    Result<void> await_resume();

private:
    friend class FileWatch;
    friend struct FileWatch::State;
    struct Cancel {
        ChangedAwaiter* self;
        void operator()() const noexcept { self->finish(fail(Errc::cancelled)); }
    };
    /// Unlinks from the watch (if linked) and completes with `r`.
    void finish(Result<void> r) noexcept;

    State* st_;
    std::stop_token stop_;
    detail::Completion<Result<void>> done_;
    detail::StopHook<Cancel> hook_;
};

}  // namespace reins
