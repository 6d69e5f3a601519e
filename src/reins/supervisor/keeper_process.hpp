// KeeperProcess: a small child that outlives its supervisor just long
// enough to kill what the supervisor started (docs/engine.md, "When the
// supervisor dies").
//
// The supervisor holds one end of a socket pair (close-on-exec, so no
// service inherits it); the keeper blocks reading the other. When the
// supervisor dies — SIGKILL, the OOM killer, a crash — the kernel closes its
// end, the keeper reads EOF and kills every process whose REINS_INSTANCE
// carries the supervisor's tag (instance_id.hpp) plus every process group
// the supervisor told it about, then exits. A clean shutdown disarms it
// first: it then exits without a sweep (another Supervisor of the same host
// process shares the tag and still runs).
//
// The keeper is forked (no exec) and runs keeper_sweep.cpp's async-signal-
// safe code, so an embedding host may be multi-threaded. It is a child the
// Loop knows about (Loop::child_spawned): the Subreaper leaves it alone and
// no Process watches it; KeeperProcess reaps it. If it dies while the
// supervisor lives (someone killed it), its end of the socket closes, the
// supervisor notices (a uv_poll on its end), reaps it and starts a new one.
//
//   auto k = KeeperProcess::start(own_supervisor_tag(), say);
//   k->guard_group(pid);   // each spawned service (setsid'd: pgid == pid)
//   k->release_group(pid); // once that group is empty
//   k->finish();           // after every service stopped
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <utility>

#include "reins/async/result.hpp"

namespace reins::supervisor {

class KeeperProcess {
public:
    using SayFn = std::function<void(const std::string&)>;

    /// Forks the keeper for the processes whose REINS_INSTANCE carries
    /// `tag`. On the Loop's thread; `say` (may be empty) hears of a keeper
    /// that died and was replaced.
    static Result<KeeperProcess> start(std::string tag, SayFn say = {});

    /// An empty KeeperProcess: every call is a no-op.
    KeeperProcess() noexcept = default;
    KeeperProcess(KeeperProcess&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
    KeeperProcess& operator=(KeeperProcess&& o) noexcept;
    KeeperProcess(const KeeperProcess&) = delete;
    KeeperProcess& operator=(const KeeperProcess&) = delete;
    /// finish().
    ~KeeperProcess();

    explicit operator bool() const noexcept { return st_ != nullptr; }
    /// The keeper's pid (0 when empty).
    pid_t pid() const noexcept;

    /// Also kill process group `pgid` if the supervisor dies: reaches a
    /// descendant that cleared its environment but stayed in the group.
    void guard_group(pid_t pgid);
    /// Forget `pgid` (its processes are gone, the number may be reused).
    void release_group(pid_t pgid);

    /// A clean shutdown: disarms the keeper, closes the socket and reaps it
    /// (it exits at once; after 2 s it is killed). Idempotent.
    void finish();

    /// Closes the socket without disarming, as the supervisor's death would:
    /// the keeper sweeps, and is reaped. For tests.
    void abandon();

    struct State;

private:
    explicit KeeperProcess(State* st) noexcept : st_(st) {}
    void end(bool disarm);
    State* st_ = nullptr;
};

}  // namespace reins::supervisor
