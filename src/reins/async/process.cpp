#include "reins/async/process.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <csignal>

#include "reins/async/pidfd.hpp"
#include "reins/async/spawn_child.hpp"

extern char** environ;

namespace reins {

struct Process::State {
    uv_poll_t poll{};    // on the pidfd: readable once the child has exited
    uv_timer_t retry{};  // see on_readable; initialised only when needed
    bool retry_used = false;
    int open_handles = 1;  // poll (and retry): State goes with the last close
    Loop* loop = nullptr;
    std::string name;  // argv[0], for error contexts
    int pid = 0;
    int pidfd = -1;
    bool new_session = true;
    bool exited = false;
    bool orphaned = false;
    ExitStatus status;
    detail::WaitList waiters;

    State() {
        poll.data = this;
        retry.data = this;
    }

    uv_handle_t* uv_handle() noexcept { return reinterpret_cast<uv_handle_t*>(&poll); }
    uv_handle_t* retry_handle() noexcept { return reinterpret_cast<uv_handle_t*>(&retry); }

    std::string who() const { return name + " (pid " + std::to_string(pid) + ")"; }

    // The handles keep the loop alive only while someone waits for the exit,
    // or while it is an orphan the Loop must reap before closing.
    void update_ref() noexcept {
        const bool keep = orphaned || !waiters.empty();
        for (uv_handle_t* h : {uv_handle(), retry_used ? retry_handle() : nullptr}) {
            if (!h) continue;
            if (keep) uv_ref(h);
            else uv_unref(h);
        }
    }

    // Only before the reap: until then the pid (and the group it leads)
    // cannot belong to anyone else.
    void kill_all(int sig) noexcept {
        assert(!exited && pid > 1);
        if (new_session) ::kill(-pid, sig);
        ::kill(pid, sig);
    }

    // Reaps our child if it has exited: waitid on its pid only, so no other
    // child's status is ever taken.
    bool try_reap() noexcept {
        siginfo_t info{};
        int rc;
        do rc = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG);
        while (rc < 0 && errno == EINTR);
        if (rc < 0) {
            // ECHILD: someone else reaped it (a host's waitpid(-1)); the
            // exit is certain, its status lost.
            status = ExitStatus{ExitStatus::lost, 0};
        } else if (info.si_pid != pid) {
            return false;  // not waitable yet
        } else if (info.si_code == CLD_EXITED) {
            status = ExitStatus{info.si_status, 0};
        } else {
            status = ExitStatus{0, info.si_status};  // CLD_KILLED, CLD_DUMPED
        }
        return true;
    }

    void close() noexcept {
        open_handles = retry_used ? 2 : 1;
        uv_close(uv_handle(), &State::on_close);
        if (retry_used) uv_close(retry_handle(), &State::on_close);
    }

    void on_exit() {
        uv_poll_stop(&poll);
        if (retry_used) uv_timer_stop(&retry);
        loop->child_reaped(pid);  // reaped: the pid may now be reused
        exited = true;
        while (auto* n = waiters.pop_front()) static_cast<WaitAwaiter*>(n)->done_.complete(status);
        // An orphan's owner is gone: this is the moment it may be closed.
        if (orphaned) close();
    }

    static void on_readable(uv_poll_t* p, int, int) {
        auto* st = static_cast<State*>(p->data);
        if (st->try_reap()) return st->on_exit();
        // Readable but not waitable: a zombie still held by a tracer
        // (ptrace) is waitable only once the tracer lets go. The pidfd stays
        // readable meanwhile; look again every 10 ms instead of spinning.
        uv_poll_stop(&st->poll);
        if (!st->retry_used) {
            uv_timer_init(st->loop->uv(), &st->retry);
            st->retry_used = true;
            st->update_ref();
        }
        uv_timer_start(&st->retry, &State::on_retry, 10, 10);
    }

    static void on_retry(uv_timer_t* t) {
        auto* st = static_cast<State*>(t->data);
        if (st->try_reap()) st->on_exit();
    }

    static void on_close(uv_handle_t* h) {
        auto* st = static_cast<State*>(h->data);
        if (--st->open_handles > 0) return;
        ::close(st->pidfd);
        if (st->orphaned) st->loop->orphan_reaped();
        delete st;
    }
};

namespace {

// The context of a spawn error; names the cwd when it is the likely culprit.
std::string spawn_context(const ProcessOptions& o) {
    std::string ctx = "spawn " + o.argv[0];
    if (o.cwd.empty()) return ctx;
    if (::access(o.cwd.c_str(), X_OK) != 0) return ctx + ": chdir " + o.cwd;
    return ctx + " (cwd " + o.cwd + ")";
}

// The child's ends of its stdio pipes. The parent closes them as soon as
// the spawn has dup'ed them into the child (or failed), on every path: one
// left open would keep the parent's read end from ever seeing EOF.
struct ChildEnds {
    int fds[3] = {-1, -1, -1};

    ChildEnds() = default;
    ChildEnds(const ChildEnds&) = delete;
    ChildEnds& operator=(const ChildEnds&) = delete;
    ~ChildEnds() { close(); }

    void close() noexcept {
        for (int& fd : fds)
            if (fd >= 0) ::close(std::exchange(fd, -1));
    }
};

// A pipe for one of the child's stdio fds: `ours` becomes the parent's end
// (non-blocking, as a Stream); returns the child's end (blocking, as programs
// expect of their stdio). A real pipe rather than a socketpair: a child can
// reopen /dev/stdout or /dev/stderr (ENXIO on a socket) and sees a FIFO, as
// in a shell pipeline. Both ends are close-on-exec, so no other child
// inherits them; the dup2 onto fd 0-2 clears the flag in this child only.
// The child's end is never fd 0-2 (possible when reins' own are closed):
// setting up one of the child's stdio fds would replace it first.
Result<int> open_pipe(Stream& ours, bool child_reads) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return fail(uv_error(uv_translate_sys_error(errno), "pipe"));
    int child = child_reads ? fds[0] : fds[1];
    auto s = Stream::open_fd(child_reads ? fds[1] : fds[0]);  // closes that fd on failure too
    if (!s) {
        ::close(child);
        return fail(std::move(s).error());
    }
    ours = std::move(*s);
    if (child < 3) {
        int high = ::fcntl(child, F_DUPFD_CLOEXEC, 3);
        int err = errno;
        ::close(child);
        if (high < 0) return fail(uv_error(uv_translate_sys_error(err), "pipe"));
        child = high;
    }
    return child;
}

// A child whose status the kernel discards (SIGCHLD ignored, or
// SA_NOCLDWAIT) could never be reported. uv_spawn installed libuv's SIGCHLD
// handler, which overrode such a setting; reins restores the default
// instead (zombies wait to be reaped; no handler runs).
void keep_children_waitable() noexcept {
    struct sigaction sa {};
    if (::sigaction(SIGCHLD, nullptr, &sa) != 0) return;
    if (sa.sa_handler != SIG_IGN && (sa.sa_flags & SA_NOCLDWAIT) == 0) return;
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(SIGCHLD, &dfl, nullptr);
}

// A child gets its inherited stdio blocking, as programs expect (uv_spawn's
// child cleared O_NONBLOCK; the flag belongs to the open file, shared with
// reins, so clearing it here is the same).
void make_blocking(int fd) noexcept {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK) != 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

// A child we cannot watch (no pidfd): it must not run unreported.
void kill_and_reap(int pid, bool group) noexcept {
    if (group) ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
}

}  // namespace

Result<Process> Process::spawn(ProcessOptions o) {
    if (o.argv.empty() || o.argv[0].empty()) return fail(uv_error(UV_EINVAL, "spawn: empty argv"));
    Loop& loop = Loop::current();

    std::vector<char*> args;
    args.reserve(o.argv.size() + 1);
    for (auto& a : o.argv) args.push_back(a.data());
    args.push_back(nullptr);
    std::vector<char*> envp;
    if (o.env) {
        envp.reserve(o.env->size() + 1);
        for (auto& e : *o.env) envp.push_back(e.data());
        envp.push_back(nullptr);
    }

    Process p;
    detail::ChildSetup setup;
    ChildEnds child_ends;
    for (int fd = 0; fd < 3; ++fd) {
        Stdio how = fd == 0 ? o.in : fd == 1 ? o.out : o.err;
        switch (how) {
        case Stdio::null: setup.stdio[fd] = -1; break;
        case Stdio::inherit:
            setup.stdio[fd] = fd;
            make_blocking(fd);
            break;
        case Stdio::pipe: {
            auto end = open_pipe(fd == 0 ? p.in_ : fd == 1 ? p.out_ : p.err_, fd == 0);
            // On failure p closes the parent's ends it already has, child_ends the child's.
            if (!end) return fail(Error(end.error().code, spawn_context(o) + ": " + end.error().context));
            child_ends.fds[fd] = *end;
            setup.stdio[fd] = *end;
            break;
        }
        }
    }
    setup.argv = args.data();
    setup.envp = o.env ? envp.data() : environ;
    setup.cwd = o.cwd.empty() ? nullptr : o.cwd.c_str();
    setup.new_session = o.new_session;

    keep_children_waitable();
    pid_t pid = 0;
    int err = detail::spawn_child(setup, &pid);
    child_ends.close();  // the child has its copies (or never will)
    if (err != 0) return fail(uv_error(uv_translate_sys_error(err), spawn_context(o)));

    // The child is ours and unreaped from here on, so its pid cannot be
    // reused: the pidfd names exactly it.
    int pidfd = detail::open_pidfd(pid);
    if (pidfd < 0) {
        err = errno;
        kill_and_reap(pid, o.new_session);
        return fail(uv_error(uv_translate_sys_error(err), spawn_context(o) + ": pidfd_open"));
    }
    auto* st = new State;
    st->loop = &loop;
    st->name = o.argv[0];
    st->pid = pid;
    st->pidfd = pidfd;
    st->new_session = o.new_session;
    int rc = uv_poll_init(loop.uv(), &st->poll, pidfd);
    if (rc != 0) {  // not initialised: nothing to uv_close
        kill_and_reap(pid, o.new_session);
        ::close(pidfd);
        delete st;
        return fail(uv_error(rc, spawn_context(o) + ": watch the exit"));
    }
    rc = uv_poll_start(&st->poll, UV_READABLE, &State::on_readable);
    if (rc != 0) {
        kill_and_reap(pid, o.new_session);
        st->close();  // closes the pidfd too
        return fail(uv_error(rc, spawn_context(o) + ": watch the exit"));
    }
    loop.child_spawned(pid);  // ours to reap: the Subreaper leaves it alone
    st->update_ref();         // nobody waits yet
    p.st_ = st;
    return p;
}

Process::~Process() { release(); }

Process::Process(Process&& o) noexcept
    : st_(std::exchange(o.st_, nullptr)),
      in_(std::move(o.in_)),
      out_(std::move(o.out_)),
      err_(std::move(o.err_)) {}

Process& Process::operator=(Process&& o) noexcept {
    if (this != &o) {
        release();
        st_ = std::exchange(o.st_, nullptr);
        in_ = std::move(o.in_);
        out_ = std::move(o.out_);
        err_ = std::move(o.err_);
    }
    return *this;
}

void Process::release() noexcept {
    State* st = std::exchange(st_, nullptr);
    if (!st) return;
    while (auto* n = st->waiters.pop_front()) {
        auto* w = static_cast<WaitAwaiter*>(n);
        w->hook_.detach();
        w->done_.complete(fail(Errc::cancelled, "wait for " + st->who() + ": Process destroyed"));
    }
    if (st->exited) {
        st->close();
        return;
    }
    // Never close before the reap (the zombie would stay): kill, and let
    // on_exit close it.
    st->kill_all(SIGKILL);
    st->orphaned = true;
    st->loop->orphan_adopted();
    st->update_ref();
}

int Process::pid() const noexcept { return st_ ? st_->pid : 0; }

bool Process::exited() const noexcept { return st_ && st_->exited; }

std::optional<ExitStatus> Process::exit_status() const noexcept {
    if (!exited()) return std::nullopt;
    return st_->status;
}

Process::WaitAwaiter Process::wait(std::stop_token stop) { return WaitAwaiter(st_, std::move(stop)); }

Result<void> Process::signal(int sig) {
    if (!st_) return fail(uv_error(UV_EINVAL, "signal " + std::to_string(sig) + ": empty Process"));
    auto ctx = [&] { return "signal " + std::to_string(sig) + " to " + st_->who(); };
    if (st_->exited) return fail(Errc::exited, ctx());
    // Not reaped yet, so the pid is still our child's (perhaps a zombie).
    if (::kill(st_->pid, sig) != 0) return fail(uv_error(-errno, ctx()));
    return {};
}

Result<void> Process::signal_group(int sig) {
    if (!st_) return fail(uv_error(UV_EINVAL, "signal " + std::to_string(sig) + " to group: empty Process"));
    auto ctx = [&] { return "signal " + std::to_string(sig) + " to the group of " + st_->who(); };
    if (!st_->new_session) return fail(uv_error(UV_EINVAL, ctx() + ": not started in a new session"));
    assert(st_->pid > 1);  // kill(-0) or kill(-1) would reach far more than the group
    if (::kill(-st_->pid, sig) != 0) return fail(uv_error(-errno, ctx()));
    return {};
}

// ---- wait -------------------------------------------------------------------

Process::WaitAwaiter::~WaitAwaiter() {
    hook_.detach();
    if (linked) {  // only linked while the Process (and st_) lives
        st_->waiters.remove(this);
        st_->update_ref();
    }
}

bool Process::WaitAwaiter::await_ready() {
    // The status is stored, never consumed: returning it even when stop was
    // requested loses nothing and needs no wait.
    if (!st_) done_.complete(fail(uv_error(UV_EINVAL, "wait: empty Process")));
    else if (st_->exited) done_.complete(st_->status);
    else if (stop_.stop_requested()) done_.complete(fail(Errc::cancelled));
    return done_.done();
}

void Process::WaitAwaiter::await_suspend(std::coroutine_handle<> h) {
    done_.arm(h);
    st_->waiters.push_back(this);
    st_->update_ref();
    hook_.attach(stop_, Cancel{this});
}

Result<ExitStatus> Process::WaitAwaiter::await_resume() {
    hook_.detach();
    return done_.take();
}

void Process::WaitAwaiter::finish(Result<ExitStatus> r) {
    if (linked) {
        st_->waiters.remove(this);
        st_->update_ref();
    }
    done_.complete(std::move(r));
}

}  // namespace reins
