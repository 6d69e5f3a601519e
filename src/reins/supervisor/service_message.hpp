// The messages of a Service actor's one mailbox: what its instance's tasks
// saw, and what callers ask. One mailbox, so that nothing is lost between
// two channels raced against each other.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include "reins/async/channel.hpp"
#include "reins/async/process.hpp"
#include "reins/async/result.hpp"

namespace reins::supervisor {

/// What a concern task of an instance reports to the Service actor.
struct InstanceEvent {
    enum class Kind {
        ready,          ///< readiness passed (detail: how)
        start_timeout,  ///< the startup deadline passed
        exited,         ///< the main process exited (status)
        healthy,        ///< a liveness probe succeeded after failures or at first
        unhealthy,      ///< `failures` consecutive liveness failures (detail: the last error)
        probe_failed,   ///< one liveness failure below the threshold (detail)
        status_text,    ///< sd_notify STATUS=… (the text: Instance::take_status_text())
        stopping,       ///< sd_notify STOPPING=1: the service is stopping by itself
        main_pid,       ///< sd_notify MAINPID=: the main pid moved (Instance::main_pid())
    };
    Kind kind = Kind::ready;
    /// What happened, in words. For `exited`: empty, or the exit when
    /// `status` cannot say it (a handed-over main pid whose status reins
    /// could not read).
    std::string detail;
    ExitStatus status;  ///< kind == exited
    uint64_t generation = 0;  ///< which run of the service sent it
};

/// A request to a Service; the actor answers on `reply` when it is done.
struct Command {
    enum class Kind { start, stop, restart } kind = Kind::start;
    bool wait_ready = true;  ///< start: answer once running (else once spawned)
    std::shared_ptr<Channel<Result<void>>> reply;
    /// start with wait_ready: also told once the service was spawned (or
    /// could not be), so dependents on "started" need no second command.
    std::shared_ptr<Channel<Result<void>>> spawned;

    /// Tells `spawned` (once), if anyone listens.
    void answer_spawned(const Result<void>& r) {
        if (spawned) (void)spawned->try_send(r);
        spawned.reset();
    }
    /// The final answer; it also ends the wait for the spawn.
    void answer(Result<void> r) {
        answer_spawned(r);
        if (reply) (void)reply->try_send(std::move(r));
    }
};

/// The backoff before a restart has passed.
struct Wakeup {
    uint64_t generation = 0;
};

using ServiceMessage = std::variant<InstanceEvent, Command, Wakeup>;

}  // namespace reins::supervisor
