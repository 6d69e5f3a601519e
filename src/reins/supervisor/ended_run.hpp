// Whether anything of an ended run can still be alive, without a pass over
// /proc (docs/engine.md, Behaviour worth knowing).
//
// At the end of every run the stop looks for what the run left behind: the
// members of its process group and the processes carrying its
// REINS_INSTANCE. A pass over /proc costs a few microseconds for every
// process of the system; a service in a crash loop pays it at every restart.
// Most runs leave nothing, and the kernel can say so at a much lower cost:
//
// Every process that carries the run's REINS_INSTANCE or belongs to its
// group descends from the run's first process (it inherited one or the
// other), so it started no earlier than that process. While this process
// is a child subreaper (and was one when the run was spawned, so that the
// run's processes inherited the flag), a descendant whose parents died is
// re-parented to us: once the run's first process is gone, whatever is left
// of the run hangs below a child of ours. So when the group is empty and
// none of our children started since the run began is in the group or
// carries its REINS_INSTANCE, nothing of the run is left.
//
// Any doubt (no subreaper, a child we cannot read, a young child without a
// REINS_INSTANCE of its own, which may have cleared it while its own
// children kept it, or too many young children to look at) answers false,
// and the caller scans /proc as before.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>

namespace reins::supervisor {

/// True while orphaned descendants of this process are re-parented to it:
/// it is a child subreaper, or PID 1 of its namespace.
bool adopts_orphans();

/// True only if no process of the ended run can be alive: no member of
/// group `pgid` and no process carrying `REINS_INSTANCE=<instance>`. `since`
/// is the start time of the run's first process (/proc/PID/stat field 22),
/// which must have exited and been reaped; the caller must have checked
/// that this process adopted orphans since before that process was spawned.
/// Reads our children (/proc/self/task/*/children), and the stat of each,
/// and the environment of those started since the run began.
bool ended_run_left_nothing(pid_t pgid, std::string_view instance, uint64_t since);

}  // namespace reins::supervisor
