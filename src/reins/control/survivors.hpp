// Survivors: the service processes left running by a supervisor that was
// killed (SIGKILL, OOM) before it could stop them (docs/cli.md, When the
// supervisor was killed).
//
// They are found from the last state.json: a recorded main pid counts only
// while its start time still matches (a recycled pid is never reported nor
// signalled); its process group (services run setsid'd, pgid == main pid)
// only then too, since a group id is as reusable as the pid it came from;
// processes carrying the service's REINS_INSTANCE always (the id is unique
// to one run, so it cannot name a stranger). And since every id names the
// supervisor process that made it (supervisor/instance_id.hpp), whose pid
// and start time reins.lock keeps from before the first spawn, a process
// spawned an instant before its supervisor died — no record of it written
// yet — is found too.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "reins/control/state_file.hpp"
#include "reins/control/state_paths.hpp"
#include "reins/control/supervisor_lock.hpp"
#include "reins/supervisor/process_tree.hpp"

namespace reins::control {

/// A live process of a service whose supervisor is gone.
struct Survivor {
    std::string service;
    supervisor::ProcessRef process;
    std::string command;  ///< /proc/PID/cmdline joined by spaces, at most 200 chars
};

/// Every process still alive of the services in `snap` (see the top of this
/// header): each once, the main pid of a service first, zombies and the
/// calling process left out.
std::vector<Survivor> find_survivors(const StateSnapshot& snap);

/// Every survivor of the last supervisor of a state directory: those of its
/// state.json (above, when there is one) and every process carrying a
/// REINS_INSTANCE made by the supervisor reins.lock names. Nothing while a
/// supervisor holds the lock, or while the one it names lives on (a state
/// directory moved away from a running daemon): nothing survived it.
std::vector<Survivor> find_survivors(const StatePaths& paths);

/// The same for a state directory whose lock the caller holds (so the lock
/// test above would say "held"): the survivors of `who`, the supervisor
/// that held it before (SupervisorLock::previous(), else the writer of
/// `snap`), from its last state.json `snap` and its REINS_INSTANCE tags.
/// Nothing when `who` is this process or still lives.
std::vector<Survivor> find_survivors(std::optional<StateSnapshot> snap, const LockInfo& who);

/// Stops survivors like the signal steps of a stop (docs/config.md,
/// `stop`), synchronously (for the CLI):
/// SIGTERM + SIGCONT to each (by verified ProcessRef), a poll every 10 ms
/// until all are gone or `grace` has passed, then SIGKILL to those left and
/// up to 2 s more for them to go. Returns those still alive at the end
/// (normally none). Zombies count as gone: their parent reaps them.
std::vector<Survivor> stop_survivors(std::vector<Survivor> survivors, std::chrono::milliseconds grace);

/// The command line of `pid` (/proc/PID/cmdline, arguments joined by spaces,
/// cut at `max` chars), or "" when it cannot be read.
std::string process_command(int pid, std::size_t max = 200);

}  // namespace reins::control
