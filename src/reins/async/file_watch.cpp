#include "reins/async/file_watch.hpp"

#include <cassert>
#include <utility>

#include "reins/async/close_handle.hpp"

namespace reins {

struct FileWatch::State {
    uv_fs_event_t handle{};
    std::string path;
    std::string only_name;  // empty: every event counts
    std::string self_name;  // basename of path: events about the watched thing itself
    ChangedAwaiter* waiter = nullptr;
    bool pending = false;
    std::optional<Error> error;  // a failure reported while nobody awaited

    uv_handle_t* uv_handle() noexcept { return reinterpret_cast<uv_handle_t*>(&handle); }

    bool wanted(const char* filename) const noexcept {
        if (only_name.empty() || filename == nullptr) return true;
        return only_name == filename || self_name == filename;
    }

    static void on_event(uv_fs_event_t* h, const char* filename, int /*events*/, int status) {
        auto* st = static_cast<State*>(h->data);
        if (status >= 0 && !st->wanted(filename)) return;
        Result<void> r;
        if (status < 0) r = fail(uv_error(status, "watch " + st->path));
        if (st->waiter) {
            st->waiter->finish(std::move(r));
        } else if (!r) {
            st->error = std::move(r).error();
        } else {
            st->pending = true;
        }
    }
};

namespace {

std::string basename_of(const std::string& path) {
    std::string p = path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    auto slash = p.rfind('/');
    return slash == std::string::npos ? p : p.substr(slash + 1);
}

void close_state(FileWatch::State* st) noexcept {
    if (uv_is_closing(st->uv_handle())) return;
    uv_fs_event_stop(&st->handle);
    detail::close_and_delete<FileWatch::State>(st->uv_handle());
}

}  // namespace

Result<FileWatch> FileWatch::watch(std::string path, std::string only_name) {
    auto* st = new State;
    st->path = std::move(path);
    st->only_name = std::move(only_name);
    st->self_name = basename_of(st->path);
    st->handle.data = st;
    uv_fs_event_init(Loop::current().uv(), &st->handle);
    int rc = uv_fs_event_start(&st->handle, &State::on_event, st->path.c_str(), 0);
    if (rc != 0) {
        Error e = uv_error(rc, "watch " + st->path);
        close_state(st);
        return fail(std::move(e));
    }
    // Only an awaited watch keeps the loop alive (see ChangedAwaiter).
    uv_unref(st->uv_handle());
    return FileWatch(st);
}

namespace {

Task<Result<void>> await_change(FileWatch::State* st, std::stop_token stop) {
    FileWatch::ChangedAwaiter awaiter(st, std::move(stop));
    auto r = co_await awaiter;
    co_return r;
}

}  // namespace

FileWatch::~FileWatch() { release(); }

FileWatch::FileWatch(FileWatch&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {
    assert((!state_ || !state_->waiter) && "FileWatch moved while awaited");
}

FileWatch& FileWatch::operator=(FileWatch&& o) noexcept {
    if (this != &o) {
        release();
        state_ = std::exchange(o.state_, nullptr);
    }
    return *this;
}

void FileWatch::release() noexcept {
    if (!state_) return;
    State* st = std::exchange(state_, nullptr);
    if (ChangedAwaiter* w = std::exchange(st->waiter, nullptr)) {
        w->st_ = nullptr;
        w->hook_.detach();
        w->done_.complete(fail(Errc::cancelled, "file watch of " + st->path + " closed"));
    }
    close_state(st);
}

const std::string& FileWatch::path() const noexcept {
    static const std::string none;
    return state_ ? state_->path : none;
}

Task<Result<void>> FileWatch::changed(std::stop_token stop) { return await_change(state_, std::move(stop)); }

FileWatch::ChangedAwaiter::~ChangedAwaiter() {
    hook_.detach();
    if (st_ && st_->waiter == this) {
        st_->waiter = nullptr;
        uv_unref(st_->uv_handle());
    }
}

bool FileWatch::ChangedAwaiter::await_ready() {
    if (stop_.stop_requested()) {
        done_.complete(fail(Errc::cancelled));
    } else if (!st_) {
        done_.complete(fail(Errc::cancelled, "file watch closed"));
    } else if (st_->error) {
        Error e = std::move(*st_->error);
        st_->error.reset();
        done_.complete(fail(std::move(e)));
    } else if (st_->pending) {
        st_->pending = false;
        done_.complete({});
    }
    return done_.done();
}

void FileWatch::ChangedAwaiter::await_suspend(std::coroutine_handle<> h) {
    assert(st_->waiter == nullptr && "FileWatch::changed awaited twice at once");
    done_.arm(h);
    st_->waiter = this;
    uv_ref(st_->uv_handle());
    hook_.attach(stop_, Cancel{this});
}

Result<void> FileWatch::ChangedAwaiter::await_resume() {
    hook_.detach();
    return done_.take();
}

void FileWatch::ChangedAwaiter::finish(Result<void> r) noexcept {
    if (st_ && st_->waiter == this) {
        st_->waiter = nullptr;
        uv_unref(st_->uv_handle());
    }
    done_.complete(std::move(r));
}

}  // namespace reins
