// Finding and signalling the processes of a service (docs/engine.md, Behaviour worth knowing).
//
// A service's descendants are found two ways, in one pass over /proc:
// by process group (the main child leads its own group) and by the
// `REINS_INSTANCE=<id>` entry of their environment, which survives a double
// fork plus setsid() that leaves the group. Environments are read only for
// processes of our own uid (any process when we run as root): the kernel
// would refuse the others anyway, and skipping them keeps the scan cheap
// (about 9 us a process for stat alone, 17 us with environ, on a 2-core VM
// where a syscall costs 1 us: ~1 ms with 90 processes, ~17 ms with 1100).
// A program that rewrites its environment block (setproctitle() in nginx or
// PostgreSQL) drops the tag; the process group still covers it unless it
// also called setsid().
//
// A pid alone is never trusted: it may have been reused since it was seen.
// ProcessRef pairs it with the process start time (/proc/PID/stat field 22,
// in clock ticks since boot), and signal_process() refuses to signal a pid
// whose start time no longer matches.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "reins/async/result.hpp"

namespace reins::supervisor {

/// A process as seen at one moment: a pid only trusted with its start time.
struct ProcessRef {
    pid_t pid = 0;
    uint64_t start_time = 0;  ///< /proc/PID/stat field 22 (clock ticks after boot)
    friend bool operator==(const ProcessRef&, const ProcessRef&) = default;
};

/// The fields of /proc/PID/stat that reins uses.
struct ProcStat {
    char state = '?';  ///< R, S, D, Z, T, ...
    pid_t ppid = 0;
    pid_t pgrp = 0;
    pid_t session = 0;
    uint32_t flags = 0;  ///< field 9, the kernel's PF_* bits
    uint64_t start_time = 0;
};

/// Parses the text of a /proc/PID/stat file (after the last ')', because the
/// command name may itself contain spaces and parentheses).
Result<ProcStat> parse_proc_stat(std::string_view text);

/// Reads /proc/PID/stat; an error (ENOENT) when the process does not exist.
Result<ProcStat> read_proc_stat(pid_t pid);

/// The start time of `pid` (/proc/PID/stat field 22).
Result<uint64_t> process_start_time(pid_t pid);

/// A ProcessRef for a live pid (its current start time).
Result<ProcessRef> process_ref(pid_t pid);

/// True while `ref` names a live process: the pid exists, is not a zombie,
/// and still has the same start time.
bool process_alive(const ProcessRef& ref);

/// Sends `sig` to the process `ref` names, and to no other. With pidfd
/// (Linux >= 5.3): pidfd_open, re-check the start time, pidfd_send_signal —
/// no race. Without (ENOSYS, or EPERM from a seccomp filter): check the
/// start time, then kill(); a process that exits and whose pid is reused in
/// between those two calls could be hit (a window of microseconds, which
/// needs the pid space to wrap). Fails with Errc::exited when the pid is gone
/// or belongs to another process now; EINVAL for a pid <= 1.
Result<void> signal_process(const ProcessRef& ref, int sig);

/// Sends `sig` to every process of `refs` (see signal_process); returns how
/// many were signalled. Those gone or reused are skipped.
int signal_all(const std::vector<ProcessRef>& refs, int sig);

/// Every live process whose environment holds exactly `REINS_INSTANCE=<id>`
/// (an empty id finds nothing). Zombies and reins itself are left out.
std::vector<ProcessRef> find_instance_processes(std::string_view instance_id);

/// True if `pid` (alive, not a zombie: a zombie has no environment left)
/// holds exactly `REINS_INSTANCE=<id>` in its environment. False for an
/// empty id, and for a process whose environment we may not read (another
/// uid, unless we are root).
bool carries_instance(pid_t pid, std::string_view instance_id);

/// Every live member of process group `pgid` (/proc/PID/stat field 5);
/// nothing for pgid <= 1. Zombies and reins itself are left out.
std::vector<ProcessRef> find_group_processes(pid_t pgid);

/// The processes of one service: the union of find_group_processes(pgid) and
/// find_instance_processes(instance), found in a single /proc pass, each
/// once, without reins itself. Either criterion may be empty (0 / "").
std::vector<ProcessRef> service_processes(pid_t pgid, std::string_view instance);

/// The processes of one service as one pass over /proc saw them, apart by
/// how a signal reaches them: one kill(-pgid) reaches every member of the
/// group at once (and whatever they fork meanwhile), the others need one
/// signal each. A stop sends each signal once per process that way.
struct ServiceProcesses {
    std::vector<ProcessRef> in_group;  ///< members of the process group
    std::vector<ProcessRef> outside;   ///< carrying the tag outside the group
    bool empty() const { return in_group.empty() && outside.empty(); }
    std::vector<ProcessRef> all() const;
    bool contains(const ProcessRef& ref) const;
};

/// Called for each process a scan finds, the moment it reads it: a signal
/// sent from here reaches a process that lives shorter than a whole scan
/// (one that keeps forking replacements) before it forks again.
using FoundVisitor = std::function<void(const ProcessRef&, bool in_group)>;

/// service_processes(), apart by group, with `on_found` for each as found.
ServiceProcesses scan_service(pid_t pgid, std::string_view instance, const FoundVisitor& on_found = {});

/// A live process whose REINS_INSTANCE carries a supervisor's tag
/// (instance_id.hpp).
struct TaggedProcess {
    ProcessRef process;
    std::string service;   ///< the id's part before the tag
    std::string instance;  ///< the whole id
};

/// Every live process (not a zombie, not this one) whose REINS_INSTANCE
/// carries `tag`, in one pass over /proc. Processes of another user are
/// only seen by root (their environment is unreadable otherwise).
std::vector<TaggedProcess> find_tagged_processes(std::string_view tag);

}  // namespace reins::supervisor
