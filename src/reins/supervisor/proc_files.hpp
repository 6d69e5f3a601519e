// Reading /proc for the process scans (process_tree.cpp, process_table.cpp,
// ended_run.cpp): one pass over every process, the cheap way.
//
// A pass reads /proc/PID/stat of every process, and /proc/PID/environ only
// of those the caller asks for: the environment is the costly read (the
// kernel copies it out of the other process's memory), and the processes
// that can carry a run's REINS_INSTANCE are only those started since that
// run's first process (ProcStat::start_time), since they inherited it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "reins/supervisor/process_tree.hpp"

namespace reins::supervisor::proc {

/// Reads a whole /proc file relative to `dirfd` (AT_FDCWD: `name` is a
/// path) into `storage` (grown, never shrunk, so a pass reuses it) and
/// points `text` at the bytes read. Returns 0 or an errno value. `owner`,
/// when given, receives the file's owner (the process's euid).
int read_file_at(int dirfd, const char* name, std::string& storage, std::string_view& text, uid_t* owner = nullptr);

/// The pid a /proc directory entry names, or 0 for the non-numeric ones.
pid_t pid_of_name(const char* name);

/// True if the NUL-separated environment block holds exactly `entry`.
bool has_env_entry(std::string_view env, std::string_view entry);

/// Zombies and dead processes: no environment, no signal reaches them.
inline bool dead_state(char state) { return state == 'Z' || state == 'X' || state == 'x'; }

/// PF_KTHREAD in ProcStat::flags: a kernel thread has no environment.
inline constexpr uint32_t kernel_thread_flag = 0x00200000;

/// The environment of a process, as a pass read it.
enum class Environ {
    not_read,    ///< not asked for, or a kernel thread
    unreadable,  ///< another uid's (we are not root), or the kernel refused it
    read,
};

/// Asked of each live process (not this one, not a zombie): read its environment?
using WantsEnviron = std::function<bool(pid_t pid, const ProcStat& st)>;
/// Called for each live process: its stat, and its environment when read.
using ProcessVisitor = std::function<void(pid_t pid, const ProcStat& st, Environ env, std::string_view text)>;

/// One pass over /proc. The environment of a process is read only when
/// `wants_environ` says so, only of our own uid's processes (any as root)
/// and never of kernel threads.
void for_each_process(const WantsEnviron& wants_environ, const ProcessVisitor& visit);

}  // namespace reins::supervisor::proc
