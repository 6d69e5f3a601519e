#include "reins/supervisor/subreaper.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <string>
#include <vector>

#include "reins/async/close_handle.hpp"
#include "reins/async/loop.hpp"
#include "reins/supervisor/process_children.hpp"
#include "reins/supervisor/process_tree.hpp"

namespace reins::supervisor {
namespace {

ExitStatus status_of(const siginfo_t& info) {
    if (info.si_code == CLD_EXITED) return ExitStatus{info.si_status, 0};
    return ExitStatus{0, info.si_status};  // CLD_KILLED, CLD_DUMPED
}

// Our direct children, from /proc/self/task/*/children (one small file per
// thread; orphans are adopted by one of our threads). Falls back to a scan
// of /proc for ppid == getpid() on kernels without CONFIG_PROC_CHILDREN.
std::vector<pid_t> child_pids() {
    std::vector<pid_t> pids;
    const bool have_children_files = list_children(::getpid(), pids);
    if (have_children_files) return pids;
    const pid_t self = ::getpid();
    if (DIR* proc = ::opendir("/proc")) {
        while (dirent* e = ::readdir(proc)) {
            pid_t pid = 0;
            std::string_view name(e->d_name);
            auto r = std::from_chars(name.data(), name.data() + name.size(), pid);
            if (r.ec != std::errc() || r.ptr != name.data() + name.size()) continue;
            auto st = read_proc_stat(pid);
            if (st && st->ppid == self) pids.push_back(pid);
        }
        ::closedir(proc);
    }
    return pids;
}

}  // namespace

struct Subreaper::State {
    uv_signal_t handle{};
    Loop* loop = nullptr;
    ReapedFn on_reaped;
    uint64_t reaped = 0;
    int previous_flag = 0;  // PR_GET_CHILD_SUBREAPER before enable()
    bool is_init = false;
    bool closing = false;  // the owner is gone: reap, but call nobody

    State() { handle.data = this; }

    // Reaps `pid` if it is a zombie (WNOHANG: a live child is left alone).
    bool reap_one(pid_t pid) {
        siginfo_t info{};
        int rc;
        do rc = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG);
        while (rc < 0 && errno == EINTR);
        if (rc != 0 || info.si_pid != pid) return false;
        ++reaped;
        if (!closing && on_reaped) on_reaped(pid, status_of(info));
        return true;
    }

    // Reaps every zombie child the Loop does not own.
    int reap() {
        int n = 0;
        for (;;) {
            // Peek without reaping: waitid names one zombie and leaves it.
            siginfo_t info{};
            int rc = ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT);
            if (rc < 0 && errno == EINTR) continue;
            if (rc < 0 || info.si_pid == 0) return n;  // ECHILD, or no zombie
            pid_t pid = info.si_pid;
            if (loop->owns_child(pid)) {
                // its Process reaps this one in this loop turn, but while it stays
                // first in line, waitid(P_ALL) cannot show us the zombies
                // behind it: visit our children one by one instead.
                for (pid_t child : child_pids())
                    if (!loop->owns_child(child) && reap_one(child)) ++n;
                return n;
            }
            if (!reap_one(pid)) return n;  // cannot happen: it was a zombie child
            ++n;
        }
    }

    static void on_sigchld(uv_signal_t* h, int) {
        auto* st = static_cast<State*>(h->data);
        st->reap();
    }
};

Result<Subreaper> Subreaper::enable() {
    Loop& loop = Loop::current();
    auto* st = new State;
    st->loop = &loop;
    st->is_init = ::getpid() == 1;
    if (::prctl(PR_GET_CHILD_SUBREAPER, &st->previous_flag, 0, 0, 0) != 0) st->previous_flag = 0;
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        int err = errno;
        delete st;
        return fail(uv_error(-err, "prctl(PR_SET_CHILD_SUBREAPER)"));
    }
    uv_signal_init(loop.uv(), &st->handle);
    int rc = uv_signal_start(&st->handle, &State::on_sigchld, SIGCHLD);
    if (rc != 0) {
        if (st->previous_flag == 0) ::prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
        reins::detail::close_and_delete<State>(&st->handle);
        return fail(uv_error(rc, "watch SIGCHLD"));
    }
    // Watching for orphans is no reason to keep Loop::run going.
    uv_unref(reinterpret_cast<uv_handle_t*>(&st->handle));
    st->reap();  // zombies that were already waiting
    return Subreaper(st);
}

Subreaper& Subreaper::operator=(Subreaper&& o) noexcept {
    if (this != &o) {
        release();
        st_ = std::exchange(o.st_, nullptr);
    }
    return *this;
}

Subreaper::~Subreaper() { release(); }

void Subreaper::release() noexcept {
    State* st = std::exchange(st_, nullptr);
    if (!st) return;
    // The callback may be running right now (a Subreaper destroyed from its
    // own callback): leave the function alone, the close callback frees it.
    st->closing = true;
    if (st->previous_flag == 0) ::prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
    st->reap();
    reins::detail::close_and_delete<State>(&st->handle);
}

uint64_t Subreaper::reaped() const noexcept { return st_ ? st_->reaped : 0; }

bool Subreaper::is_init() const noexcept { return st_ && st_->is_init; }

void Subreaper::on_reaped(ReapedFn fn) {
    if (st_) st_->on_reaped = std::move(fn);
}

int Subreaper::reap_now() { return st_ ? st_->reap() : 0; }

}  // namespace reins::supervisor
