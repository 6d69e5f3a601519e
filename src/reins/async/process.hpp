// Process: a child process started with posix_spawn (spawn_child.hpp) and
// reaped by reins through a pidfd watched on the loop.
//
// Spawning: glibc's posix_spawn runs the child vfork-style (clone with
// CLONE_VM | CLONE_VFORK) instead of forking reins, so no page table is
// copied and the cost does not grow with reins' memory; spawn() returns once
// the child exec'd, or with the exec's errno. The child starts as libuv's
// uv_spawn started it: default signal dispositions, empty mask, setsid()
// for new_session, stdio set up, chdir, execvp's PATH lookup in its own
// environment.
//
// Reaping: right after the spawn the pid is claimed in the Loop
// (Loop::child_spawned) and a pidfd (Linux >= 5.3) opened; a uv_poll_t on
// the pidfd wakes the loop when the child exits, and reins reaps it with
// waitid(P_PID, pid, WEXITED | WNOHANG) — its own pid only, so no other
// child's status is ever taken (libuv's, the keeper's, a host's). No
// SIGCHLD handler is needed; the Subreaper's leaves claimed pids alone.
// Until reaped, the pid cannot be reused, so signal() and kill_all may use
// it. A spawn resets SIGCHLD to its default if it was ignored (the kernel
// would discard the statuses; uv_spawn's handler overrode that too). A child
// that something else reaped first still ends its waits: the pidfd reports
// the exit, ExitStatus::lost the status.
//
// The poll handle is never closed before the reap (that would leave a
// zombie and lose the exit). A Process destroyed while its child still runs
// sends SIGKILL to the child (and its group) and leaves its state to the
// Loop's orphanage, which closes it once the child is reaped;
// Loop::close() waits for the orphans.
//
// Keeping the loop alive: the handle holds a reference on the loop only
// while someone awaits wait(), and while orphaned. A child that nobody
// awaits therefore does not keep Loop::run going, so a task stuck on
// something the child can never cause is reported as a deadlock instead of
// hanging for as long as the child lives.
//
// File descriptors: the child gets its stdio dup'ed onto fd 0-2 but no
// other descriptor is closed, so any fd without O_CLOEXEC leaks into every
// child (the stdio pipes reins creates are close-on-exec; the parent closes
// the child's ends right after the spawn). An inherited fd 0-2 (Stdio::
// inherit) loses its close-on-exec flag in the child and is made blocking
// (the flag is shared with reins' own fd, as it was under uv_spawn). The
// executable's main() should call uv_disable_stdio_inheritance() before the
// first spawn (the library does not: it marks fds 0-2 close-on-exec as
// well, which would change how the host's own fork/exec children see their
// stdio).
#pragma once

#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "reins/async/completion.hpp"
#include "reins/async/result.hpp"
#include "reins/async/stream.hpp"
#include "reins/async/wait_list.hpp"

namespace reins {

/// Where a child's stdin, stdout or stderr goes.
enum class Stdio {
    null,     ///< /dev/null
    inherit,  ///< the same file as reins' own fd 0, 1 or 2
    pipe,     ///< a pipe (pipe2, a FIFO as in a shell pipeline, so the child can reopen
              ///< /dev/stdout) whose other end is a Stream (take_stdin/out/err)
};

/// What to start and how.
struct ProcessOptions {
    /// argv[0] is the program: looked up in PATH like execvp when it has no
    /// '/' (using the child's environment), relative to `cwd` when it has one.
    std::vector<std::string> argv;
    /// The child's whole environment as "K=V" strings; nullopt inherits reins'.
    std::optional<std::vector<std::string>> env;
    /// The child's working directory; empty keeps reins' own.
    std::string cwd;
    Stdio in = Stdio::null;
    Stdio out = Stdio::pipe;
    Stdio err = Stdio::pipe;
    /// setsid() in the child: a new session and process group whose id is
    /// the child's pid, so signal_group() reaches its descendants and a
    /// terminal's Ctrl-C does not.
    bool new_session = true;
};

/// How a child ended.
struct ExitStatus {
    /// The code of a child that something else in reins' process reaped
    /// first (a host's waitpid(-1)): its exit is known, its status lost.
    static constexpr int64_t lost = -1;

    int64_t code = 0;  ///< the exit code (0 when killed by a signal; `lost`, see above)
    int signal = 0;    ///< the signal that killed it, 0 if it exited normally

    /// The shell's $? convention: the code, or 128 + signal.
    int shell_code() const noexcept { return signal != 0 ? 128 + signal : static_cast<int>(code); }
    /// Exited normally with code 0.
    bool success() const noexcept { return signal == 0 && code == 0; }
    friend bool operator==(const ExitStatus&, const ExitStatus&) = default;
};

/// A running (or finished) child process. Move-only; destroying it while the
/// child runs kills the child (SIGKILL to its group and pid) and lets the
/// Loop reap it.
class Process {
public:
    /// The heap state behind the pidfd and its uv_poll_t (outlives the Process while orphaned).
    struct State;

    /// Starts a child (the spawn and its exec happen synchronously, blocking
    /// the loop briefly). A missing program, an unusable cwd or a non-executable file
    /// is an Error whose context names them: "spawn ./srv (cwd /srv/web)".
    static Result<Process> spawn(ProcessOptions options);

    /// An empty Process (no child), e.g. a moved-from one.
    Process() noexcept = default;
    /// Kills a still-running child and hands it to the orphanage (see above).
    ~Process();
    Process(Process&& o) noexcept;
    Process& operator=(Process&& o) noexcept;
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    /// True unless empty.
    explicit operator bool() const noexcept { return st_ != nullptr; }
    /// The child's pid (kept after the exit, for logs only: it may be reused).
    int pid() const noexcept;
    /// True once reins has reaped the child.
    bool exited() const noexcept;
    /// The exit status once exited.
    std::optional<ExitStatus> exit_status() const noexcept;

    /// The parent's end of the child's stdin pipe (empty unless in == pipe,
    /// or when already taken). Closing it gives the child EOF.
    Stream take_stdin() noexcept { return std::move(in_); }
    /// The child's stdout pipe (empty unless out == pipe, or when already taken).
    /// Keep reading it: a child writing to a full pipe blocks.
    Stream take_stdout() noexcept { return std::move(out_); }
    /// The child's stderr pipe (empty unless err == pipe, or when already taken).
    Stream take_stderr() noexcept { return std::move(err_); }

    class WaitAwaiter;
    /// The exit status, once the child has exited (at once if it already
    /// has, even when `stop` was requested: the status is kept, never
    /// consumed). Errc::cancelled on stop: the child keeps running and can be
    /// awaited again. Several tasks may wait at the same time. Awaiting keeps
    /// the loop alive; await it while the Process lives.
    WaitAwaiter wait(std::stop_token stop = {});

    /// Sends `sig` to the child's pid, only while it is known to be alive:
    /// after the exit it sends nothing and fails with Errc::exited (the pid
    /// may already belong to another process).
    Result<void> signal(int sig);
    /// Sends `sig` to the child's process group (kill(-pgid, sig)); only for
    /// a new_session child (an error otherwise: the group would be reins'
    /// own). Works after the leader's exit too, reaching surviving members of
    /// the group (e.g. a daemonised grandchild) — the group id cannot be
    /// reused while any member lives; once the group is empty it fails with
    /// ESRCH. Use it for cleanup right after the exit, not much later.
    Result<void> signal_group(int sig);

private:
    explicit Process(State* st) noexcept : st_(st) {}
    void release() noexcept;

    State* st_ = nullptr;
    Stream in_;
    Stream out_;
    Stream err_;
};

/// The awaiter of Process::wait(); it sits in the Process's waiter list
/// while suspended and unlinks itself if its frame goes away.
class Process::WaitAwaiter : detail::WaitNode {
public:
    WaitAwaiter(State* st, std::stop_token stop) : st_(st), stop_(std::move(stop)) {}
    WaitAwaiter(WaitAwaiter&& o) noexcept : st_(o.st_), stop_(std::move(o.stop_)) {}
    ~WaitAwaiter();

    bool await_ready();
    void await_suspend(std::coroutine_handle<> h);
    Result<ExitStatus> await_resume();

private:
    friend class Process;
    friend struct Process::State;
    struct Cancel {
        WaitAwaiter* self;
        void operator()() const noexcept { self->finish(fail(Errc::cancelled)); }
    };
    void finish(Result<ExitStatus> r);

    State* st_;
    std::stop_token stop_;
    detail::Completion<Result<ExitStatus>> done_;
    detail::StopHook<Cancel> hook_;
};

}  // namespace reins
