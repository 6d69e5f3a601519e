// A process's children, and the trees walked through them.
//
// /proc/PID/task/TID/children lists the children of each thread (Linux 3.5+
// with CONFIG_PROC_CHILDREN, which mainstream kernels enable). Walking a tree
// through it costs a few syscalls a process, where a pass over /proc reads
// every process of the system; and it links what nothing else does: a
// descendant that cleared its environment (no REINS_INSTANCE) and called
// setsid() (another group) is still its parent's child. Once that parent is
// gone the link is lost, and reins, the subreaper, is its parent instead.
#pragma once

#include <sys/types.h>

#include <functional>
#include <vector>

#include "reins/supervisor/process_tree.hpp"

namespace reins::supervisor {

/// Appends the children of every thread of `pid` to `out`; false when
/// those files cannot be read (no such process, or no CONFIG_PROC_CHILDREN).
bool list_children(pid_t pid, std::vector<pid_t>& out);

/// The live descendants of `roots` that `known` does not hold, each once.
/// A root whose pid now names another process (or none) is not walked.
std::vector<ProcessRef> descendants_outside(const std::vector<ProcessRef>& roots, const std::vector<ProcessRef>& known);

/// The orphans this process adopted as a child subreaper: its children that
/// `is_own` does not claim (reins' own: services it spawned, probes) and
/// that live outside its session (a service runs in a session of its own;
/// an embedding program's helpers share its session), with every
/// descendant of those.
std::vector<ProcessRef> adopted_orphans(const std::function<bool(pid_t)>& is_own);

}  // namespace reins::supervisor
