// Process: a child process started with uv_spawn, awaited through libuv's
// exit callback.
//
// Child exits come only through libuv (its SIGCHLD watcher and exit_cb):
// reins never installs a SIGCHLD handler or calls waitpid on its own, since
// stealing libuv's status loses the exit for good (docs/design.md, Who
// owns a uv handle).
//
// The process handle is never closed before libuv reported the exit (that
// would lose the exit and leave a zombie). A Process destroyed while its
// child still runs sends SIGKILL to the child (and its group) and leaves the
// handle to the Loop's orphanage, which closes it from the exit callback;
// Loop::close() waits for the orphans.
//
// Keeping the loop alive: the handle holds a reference on the loop only
// while someone awaits wait(), and while orphaned. A child that nobody
// awaits therefore does not keep Loop::run going, so a task stuck on
// something the child can never cause is reported as a deadlock instead of
// hanging for as long as the child lives.
//
// File descriptors: libuv dups the requested stdio into the child but does
// not close other descriptors, so any fd without O_CLOEXEC leaks into every
// child (the stdio pipes reins creates are close-on-exec; the parent closes
// the child's ends right after the spawn). The executable's main() should call uv_disable_stdio_inheritance()
// before the first spawn (the library does not: it marks fds 0-2 close-on-
// exec as well, which would change how the host's own fork/exec children
// see their stdio).
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
    int64_t code = 0;  ///< the exit code (0 when killed by a signal)
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
    /// The heap state behind the uv_process_t (outlives the Process while orphaned).
    struct State;

    /// Starts a child (fork + exec happen synchronously, blocking the loop
    /// briefly). A missing program, an unusable cwd or a non-executable file
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
    /// True once libuv has reaped the child.
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
