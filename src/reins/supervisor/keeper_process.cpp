#include "reins/supervisor/keeper_process.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <ctime>
#include <vector>

#include "reins/async/close_handle.hpp"
#include "reins/async/loop.hpp"
#include "reins/supervisor/keeper_sweep.hpp"

namespace reins::supervisor {
namespace {

// "exited with code 0", "killed by signal 9".
std::string how_it_ended(int status) {
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    return "exited with code " + std::to_string(WEXITSTATUS(status));
}

// Waits for `pid` (our child) to end, for at most `ms`; true once reaped.
bool reap_within(pid_t pid, int ms, int* status) {
    int pfd = -1;
#ifdef SYS_pidfd_open
    pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#endif
    if (pfd >= 0) {
        pollfd p{pfd, POLLIN, 0};
        while (::poll(&p, 1, ms) < 0 && errno == EINTR) {
        }
        ::close(pfd);
    }
    for (int waited = 0;; ++waited) {
        pid_t r = ::waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return true;
        if (r < 0 && errno == EINTR) continue;
        if (pfd >= 0 || waited >= ms) return false;
        timespec ts{0, 1000000L};
        ::nanosleep(&ts, nullptr);
    }
}

}  // namespace

// The uv_poll on the supervisor's end of the socket, on the heap of its own:
// freed only by its close callback, which may run after State is gone.
struct KeeperWatch {
    uv_poll_t poll{};
    KeeperProcess::State* owner = nullptr;
};

struct KeeperProcess::State {
    Loop* loop = nullptr;
    std::string tag;
    SayFn say;
    std::vector<int32_t> groups;  // guarded now: sent again to a replacement keeper
    pid_t pid = 0;
    int fd = -1;  // our end of the socket pair
    KeeperWatch* watch = nullptr;

    Result<void> fork_keeper() {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            return fail(uv_error(-errno, "keeper process: socketpair"));
        // Everything the child touches is ready before the fork.
        const char* tag_text = tag.c_str();
        const std::size_t tag_len = tag.size();
        // A raw clone() rather than fork(): no pthread_atfork handler runs in
        // the child (a host's may lock or allocate; glibc's and libuv's write
        // to pages that would then be copied), and the child needs none of
        // them: it makes raw system calls only.
        // Signals blocked across it: until the child has reset the host's
        // handlers (keeper::run), none of them may run in it.
        sigset_t all, old;
        sigfillset(&all);
        ::pthread_sigmask(SIG_SETMASK, &all, &old);
        pid_t child = static_cast<pid_t>(::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, 0));
        int clone_errno = errno;
        if (child != 0) ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
        if (child < 0) {
            int err = clone_errno;
            ::close(sv[0]);
            ::close(sv[1]);
            return fail(uv_error(-err, "keeper process: fork"));
        }
        if (child == 0) keeper::run(sv[1], tag_text, tag_len);
        ::close(sv[1]);
        pid = child;
        fd = sv[0];
        loop->child_spawned(pid);  // ours to reap, not the Subreaper's
        for (int32_t g : groups) send(g);
        start_watch();
        return {};
    }

    void start_watch() {
        auto* w = new KeeperWatch;
        w->poll.data = w;
        w->owner = this;
        if (uv_poll_init(loop->uv(), &w->poll, fd) != 0) {
            delete w;  // never initialised: nothing to close
            return;    // unwatched: a killed keeper is then only reaped at finish()
        }
        watch = w;
        uv_poll_start(&w->poll, UV_READABLE | UV_DISCONNECT, &State::on_poll);
        uv_unref(reinterpret_cast<uv_handle_t*>(&w->poll));  // no reason to keep Loop::run going
    }

    void stop_watch() {
        if (!watch) return;
        uv_poll_stop(&watch->poll);
        reins::detail::close_and_delete<KeeperWatch>(&watch->poll);
        watch = nullptr;
    }

    void send(int32_t v) {
        // A keeper that died is noticed by the watch; never SIGPIPE the host.
        (void)::send(fd, &v, sizeof v, MSG_DONTWAIT | MSG_NOSIGNAL);
    }

    // Closes our end and reaps the keeper; a keeper that does not exit
    // within `ms` (it never should) is killed.
    int close_and_reap(int ms) {
        stop_watch();
        if (fd >= 0) ::close(std::exchange(fd, -1));
        int status = 0;
        if (pid > 0) {
            if (!reap_within(pid, ms, &status)) {
                ::kill(pid, SIGKILL);
                while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
                }
            }
            loop->child_reaped(pid);
        }
        return status;
    }

    // The keeper never writes: readable means its end closed — it died.
    static void on_poll(uv_poll_t* h, int, int) {
        State* st = static_cast<KeeperWatch*>(h->data)->owner;
        char c;
        if (::recv(st->fd, &c, 1, MSG_DONTWAIT) < 0 && (errno == EAGAIN || errno == EINTR)) return;
        const pid_t old = st->pid;
        int status = st->close_and_reap(2000);  // it is dying: this does not block
        st->pid = 0;
        auto r = st->fork_keeper();
        if (!st->say) return;
        std::string line = "the keeper process (pid " + std::to_string(old) + ") " + how_it_ended(status) + ": ";
        if (r)
            st->say(line + "started a new one (pid " + std::to_string(st->pid) + ")");
        else
            st->say(line + "cannot start a new one (" + r.error().message() +
                    "): if reins dies now, its services outlive it until the next reins command stops them");
    }
};

Result<KeeperProcess> KeeperProcess::start(std::string tag, SayFn say) {
    auto* st = new State;
    st->loop = &Loop::current();
    st->tag = std::move(tag);
    st->say = std::move(say);
    auto r = st->fork_keeper();
    if (!r) {
        delete st;
        return fail(std::move(r).error());
    }
    return KeeperProcess(st);
}

KeeperProcess& KeeperProcess::operator=(KeeperProcess&& o) noexcept {
    if (this != &o) {
        finish();
        st_ = std::exchange(o.st_, nullptr);
    }
    return *this;
}

KeeperProcess::~KeeperProcess() { finish(); }

pid_t KeeperProcess::pid() const noexcept { return st_ ? st_->pid : 0; }

void KeeperProcess::guard_group(pid_t pgid) {
    if (!st_ || pgid <= 1) return;
    st_->groups.push_back(static_cast<int32_t>(pgid));
    if (st_->fd >= 0) st_->send(static_cast<int32_t>(pgid));
}

void KeeperProcess::release_group(pid_t pgid) {
    if (!st_ || pgid <= 1) return;
    auto& g = st_->groups;
    for (auto it = g.begin(); it != g.end(); ++it)
        if (*it == pgid) {
            g.erase(it);
            break;
        }
    if (st_->fd >= 0) st_->send(-static_cast<int32_t>(pgid));
}

void KeeperProcess::finish() { end(true); }

void KeeperProcess::abandon() { end(false); }

void KeeperProcess::end(bool disarm) {
    State* st = std::exchange(st_, nullptr);
    if (!st) return;
    if (disarm && st->fd >= 0) st->send(keeper::disarm);
    st->close_and_reap(2000);
    delete st;
}

}  // namespace reins::supervisor
