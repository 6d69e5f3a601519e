#include "reins/async/pid_watch.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>

#include "reins/async/pidfd.hpp"

namespace reins {
namespace {

// waitid()'s P_PIDFD (Linux >= 5.4); older glibc headers lack the name.
constexpr auto p_pidfd = static_cast<idtype_t>(3);

// Reaps the process behind `pidfd` if it is an exited child of ours; its
// status then, else nullopt (still running, or someone else's child).
std::optional<ExitStatus> reap(int pidfd, int pid) {
    siginfo_t info{};
    int rc;
    do rc = ::waitid(p_pidfd, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG);
    while (rc < 0 && errno == EINTR);
    if (rc != 0 || info.si_pid != pid) return std::nullopt;
    ExitStatus st;
    if (info.si_code == CLD_EXITED) st.code = info.si_status;
    else st.signal = info.si_status;
    return st;
}

}  // namespace

struct PidWatch::State {
    uv_poll_t poll{};
    Loop* loop = nullptr;
    int fd = -1;
    int pid = 0;
    bool claimed = false;  // the pid counts as ours in loop->owns_child
    bool exited = false;
    std::optional<ExitStatus> status;
    std::optional<Error> error;
    WaitAwaiter* waiter = nullptr;

    State() { poll.data = this; }
    uv_handle_t* handle() noexcept { return reinterpret_cast<uv_handle_t*>(&poll); }

    void release_claim() noexcept {
        if (!claimed) return;
        claimed = false;
        loop->child_reaped(pid);
    }

    void finish(Result<std::optional<ExitStatus>> r) {
        if (waiter) waiter->finish(std::move(r));
    }

    // libuv has stopped watching the fd: now it may be closed.
    static void on_close(uv_handle_t* h) {
        auto* s = static_cast<State*>(h->data);
        ::close(s->fd);
        delete s;
    }

    static void on_poll(uv_poll_t* h, int status, int) {
        auto* st = static_cast<State*>(h->data);
        uv_poll_stop(h);
        if (status < 0) {
            st->error = uv_error(status, "watch pid " + std::to_string(st->pid));
            st->finish(fail(*st->error));
            return;
        }
        st->exited = true;
        st->status = reap(st->fd, st->pid);
        st->release_claim();
        st->finish(st->status);
    }
};

Result<PidWatch> PidWatch::open(int pid) {
    const std::string what = "watch pid " + std::to_string(pid);
    if (pid <= 1) return fail(uv_error(UV_EINVAL, what));
    Loop& loop = Loop::current();
    if (loop.owns_child(pid)) return fail(uv_error(UV_EBUSY, what + ": a child reins spawned itself"));
    int fd = detail::open_pidfd(pid);
    if (fd < 0) return fail(uv_error(uv_translate_sys_error(errno), what + ": pidfd_open"));
    auto* st = new State;
    st->loop = &loop;
    st->fd = fd;
    st->pid = pid;
    int rc = uv_poll_init(loop.uv(), &st->poll, fd);
    if (rc != 0) {  // the handle was not initialised: nothing to uv_close
        ::close(fd);
        delete st;
        return fail(uv_error(rc, what + ": poll"));
    }
    rc = uv_poll_start(&st->poll, UV_READABLE, &State::on_poll);
    if (rc != 0) {
        uv_close(st->handle(), &State::on_close);
        return fail(uv_error(rc, what + ": poll"));
    }
    // Watched from now on, but the loop is kept alive only while awaited.
    uv_unref(st->handle());
    loop.child_spawned(pid);
    st->claimed = true;
    return PidWatch(st);
}

PidWatch& PidWatch::operator=(PidWatch&& o) noexcept {
    if (this != &o) {
        close();
        st_ = std::exchange(o.st_, nullptr);
    }
    return *this;
}

int PidWatch::pid() const noexcept { return st_ ? st_->pid : 0; }

bool PidWatch::exited() const noexcept { return st_ && st_->exited; }

std::optional<ExitStatus> PidWatch::exit_status() const noexcept {
    return st_ ? st_->status : std::nullopt;
}

void PidWatch::close() noexcept {
    State* st = std::exchange(st_, nullptr);
    if (!st) return;
    st->finish(fail(Errc::cancelled, "pid watch closed"));
    if (st->claimed) {
        // An exited child of ours would wait for the next SIGCHLD to be
        // reaped once unclaimed: reap it now (the pidfd names exactly it).
        (void)reap(st->fd, st->pid);
        st->release_claim();
    }
    uv_close(st->handle(), &State::on_close);
}

PidWatch::WaitAwaiter PidWatch::wait(std::stop_token stop) { return WaitAwaiter(st_, std::move(stop)); }

// ---- wait -------------------------------------------------------------------

PidWatch::WaitAwaiter::~WaitAwaiter() {
    hook_.detach();
    if (st_ && st_->waiter == this) {
        st_->waiter = nullptr;
        uv_unref(st_->handle());
    }
}

bool PidWatch::WaitAwaiter::await_ready() {
    if (!st_) done_.complete(fail(Errc::cancelled, "wait on a closed pid watch"));
    else if (st_->exited) done_.complete(st_->status);
    else if (st_->error) done_.complete(fail(*st_->error));
    else if (stop_.stop_requested()) done_.complete(fail(Errc::cancelled));
    return done_.done();
}

void PidWatch::WaitAwaiter::await_suspend(std::coroutine_handle<> h) {
    assert(st_->waiter == nullptr && "PidWatch::wait awaited twice at once");
    done_.arm(h);
    st_->waiter = this;
    uv_ref(st_->handle());
    hook_.attach(stop_, Cancel{this});
}

Result<std::optional<ExitStatus>> PidWatch::WaitAwaiter::await_resume() {
    hook_.detach();
    return done_.take();
}

void PidWatch::WaitAwaiter::finish(Result<std::optional<ExitStatus>> r) {
    if (st_ && st_->waiter == this) {
        st_->waiter = nullptr;
        uv_unref(st_->handle());
    }
    st_ = nullptr;
    done_.complete(std::move(r));
}

}  // namespace reins
