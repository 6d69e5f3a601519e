#include "reins/async/process.hpp"

#include <cassert>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <unistd.h>

namespace reins {

struct Process::State {
    uv_process_t handle{};
    Loop* loop = nullptr;
    std::string name;  // argv[0], for error contexts
    int pid = 0;
    bool new_session = true;
    bool exited = false;
    bool orphaned = false;
    ExitStatus status;
    detail::WaitList waiters;

    State() { handle.data = this; }

    uv_handle_t* uv_handle() noexcept { return reinterpret_cast<uv_handle_t*>(&handle); }

    std::string who() const { return name + " (pid " + std::to_string(pid) + ")"; }

    // The handle keeps the loop alive only while someone waits for the exit,
    // or while it is an orphan the Loop must reap before closing.
    void update_ref() noexcept {
        if (orphaned || !waiters.empty()) uv_ref(uv_handle());
        else uv_unref(uv_handle());
    }

    // Only before exit_cb: until then libuv has not reaped the pid, so it
    // (and the group it leads) cannot belong to anyone else.
    void kill_all(int sig) noexcept {
        assert(!exited && pid > 1);
        if (new_session) ::kill(-pid, sig);
        ::kill(pid, sig);
    }

    static void on_exit(uv_process_t* p, int64_t code, int term_signal) {
        auto* st = static_cast<State*>(p->data);
        st->loop->child_reaped(st->pid);  // libuv has reaped it
        st->exited = true;
        st->status = ExitStatus{code, term_signal};
        while (auto* n = st->waiters.pop_front()) static_cast<WaitAwaiter*>(n)->done_.complete(st->status);
        // An orphan's owner is gone: this is the moment it may be closed.
        if (st->orphaned) uv_close(st->uv_handle(), &State::on_close);
    }

    static void on_close(uv_handle_t* h) {
        auto* st = static_cast<State*>(h->data);
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
// uv_spawn has dup'ed them into the child (or failed), on every path: one
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
// expect of their stdio). A real pipe rather than libuv's socketpair
// (UV_CREATE_PIPE): a child can reopen /dev/stdout or /dev/stderr (ENXIO on
// a socket) and sees a FIFO, as in a shell pipeline. Both ends are
// close-on-exec, so no other child inherits them; libuv's dup2 onto fd 0-2
// clears the flag in this child only.
Result<int> open_pipe(Stream& ours, bool child_reads) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return fail(uv_error(uv_translate_sys_error(errno), "pipe"));
    const int child = child_reads ? fds[0] : fds[1];
    auto s = Stream::open_fd(child_reads ? fds[1] : fds[0]);  // closes that fd on failure too
    if (!s) {
        ::close(child);
        return fail(std::move(s).error());
    }
    ours = std::move(*s);
    return child;
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
    uv_stdio_container_t stdio[3]{};
    ChildEnds child_ends;
    for (int fd = 0; fd < 3; ++fd) {
        Stdio how = fd == 0 ? o.in : fd == 1 ? o.out : o.err;
        switch (how) {
        case Stdio::null: stdio[fd].flags = UV_IGNORE; break;
        case Stdio::inherit:
            stdio[fd].flags = UV_INHERIT_FD;
            stdio[fd].data.fd = fd;
            break;
        case Stdio::pipe: {
            auto end = open_pipe(fd == 0 ? p.in_ : fd == 1 ? p.out_ : p.err_, fd == 0);
            // On failure p closes the parent's ends it already has, child_ends the child's.
            if (!end) return fail(Error(end.error().code, spawn_context(o) + ": " + end.error().context));
            child_ends.fds[fd] = *end;
            stdio[fd].flags = UV_INHERIT_FD;
            stdio[fd].data.fd = *end;
            break;
        }
        }
    }

    uv_process_options_t opts{};
    opts.exit_cb = &State::on_exit;
    opts.file = args[0];
    opts.args = args.data();
    opts.env = o.env ? envp.data() : nullptr;
    opts.cwd = o.cwd.empty() ? nullptr : o.cwd.c_str();
    opts.flags = o.new_session ? UV_PROCESS_DETACHED : 0;
    opts.stdio_count = 3;
    opts.stdio = stdio;

    auto* st = new State;
    st->loop = &loop;
    st->name = o.argv[0];
    st->new_session = o.new_session;
    int rc = uv_spawn(loop.uv(), &st->handle, &opts);
    child_ends.close();  // the child has its copies (or never will)
    if (rc != 0) {
        std::string ctx = spawn_context(o);
        if (uv_is_active(st->uv_handle())) {
            // libuv failed after exec succeeded (only possible for stdio
            // it opens itself, which reins no longer asks for): a child
            // runs and must be reaped. p's destructor kills it and hands it
            // to the orphanage.
            st->pid = st->handle.pid;
            loop.child_spawned(st->pid);
            p.st_ = st;
            return fail(uv_error(rc, ctx));
        }
        uv_close(st->uv_handle(), &State::on_close);  // libuv wants the failed handle closed too
        return fail(uv_error(rc, ctx));
    }
    st->pid = st->handle.pid;
    loop.child_spawned(st->pid);
    st->update_ref();  // nobody waits yet
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
        uv_close(st->uv_handle(), &State::on_close);
        return;
    }
    // Never close before exit_cb: kill, and let exit_cb close it.
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
    int rc = uv_process_kill(&st_->handle, sig);
    if (rc != 0) return fail(uv_error(rc, ctx()));
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
