// StopEscalation: the stop of docs/config.md (`stop`) against one run of a service.
//
//   1. stop.pre request or command (its own short deadline; failure logged)
//   2. stop.http request: a 2xx means "it exits by itself": wait at most half
//      of stop.timeout; not accepted or unreachable: go on at once
//   3. stop.signal, then SIGCONT, to the process group and to every process
//      carrying the instance's REINS_INSTANCE, and to the descendants found
//      below them by parent (a child that cleared its environment and
//      called setsid()); each signal once per process
//   4. at stop.timeout from step 1: SIGSTOP to all of them, rescanning until
//      nothing new is found (a tree that keeps forking replacements is held
//      still; at most 8 scans, then later scans kill what they find), then
//      SIGKILL to all of them
//   5. wait until the main process is reaped and none of them is left,
//      killing whatever a later scan still finds, however long that takes
//
// A process that exits promptly is never sent SIGKILL, and the stop ends
// once the processes are gone: the main process's exit is an event, the
// others are looked for at 2 ms growing to 100 ms. While it waits, the
// service's status shows for which pid and until when (the CLI prints it
// once a stop takes 2 s).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "reins/async/task.hpp"
#include "reins/supervisor/instance.hpp"
#include "reins/supervisor/service_state.hpp"

namespace reins::supervisor {

struct StopReport {
    StopStep step = StopStep::none;  ///< the step that ended it
    std::vector<std::string> notes;  ///< what went wrong on the way ("stop.pre: refused")
};

/// Stops every process of `inst` and returns which step ended it. It
/// observes no stop token (and passes none on): a stop requested of the
/// caller, such as a supervisor's shutdown, does not cut it short. Only
/// destroying its frame does (a failed Loop::run unwinding).
/// `*waiting` (when given; the service's status) says while the stop runs
/// which pid it waits for and when SIGKILL comes; it is reset at the end.
Task<StopReport> stop_instance(Instance& inst, StopSpec spec, std::optional<StopWait>* waiting = nullptr);

/// Stops the orphans this process adopted as a child subreaper that no
/// service's stop could claim (see adopted_orphans(): a descendant that
/// cleared its environment and called setsid() after its parent was gone):
/// SIGTERM and SIGCONT, after `grace` SIGSTOP and SIGKILL, until none is
/// left (at most 5 s more). For a supervisor about to exit; returns how
/// many it found at first.
Task<std::size_t> stop_adopted_orphans(Millis grace);

}  // namespace reins::supervisor
