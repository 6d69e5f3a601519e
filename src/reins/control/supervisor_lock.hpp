// SupervisorLock: one supervisor per state directory (docs/cli.md, The state directory).
//
// The living supervisor holds reins.lock with flock(LOCK_EX) for its whole
// life; the kernel drops the lock when the process dies, however it dies, so
// a lock file left behind by a SIGKILLed supervisor is simply taken over.
// The file also says who holds it (JSON {pid, start_time, started_at,
// version}) so that a second supervisor can name the first.
//
// reins.lock is never deleted, not even on release: a new supervisor that
// opened the old file just before the unlink would lock an unlinked inode
// while a third one creates and locks a fresh file — two supervisors. (An
// acquirer still checks that the file it locked is the one at the path, in
// case a person removed it.)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <system_error>

#include "reins/async/result.hpp"
#include "reins/control/state_paths.hpp"

namespace reins::control {

/// Why a state directory could not be locked (category "reins.lock").
enum class LockErrc {
    busy = 1,  ///< another supervisor holds the lock (the CLI exits 3)
};

/// The error category of LockErrc ("reins.lock").
const std::error_category& lock_category() noexcept;

/// Lets `error.code == LockErrc::busy` compare (found by ADL).
inline std::error_code make_error_code(LockErrc e) noexcept { return {static_cast<int>(e), lock_category()}; }

}  // namespace reins::control

template <>
struct std::is_error_code_enum<reins::control::LockErrc> : std::true_type {};

namespace reins::control {

/// Who holds (or held) a state directory: the content of reins.lock.
struct LockInfo {
    int pid = 0;
    uint64_t start_time = 0;  ///< /proc/PID/stat field 22: the pid is only trusted with it
    std::string started_at;   ///< "2026-11-22T10:15:03.123Z"
    std::string version;      ///< reins version of the holder
    /// Free text of the program that holds it (an embedding host's port,
    /// say), for whoever finds the state directory busy; "" none (then
    /// omitted from the file).
    std::string data;
};

/// The reins.lock of a state dir, held with flock(LOCK_EX) for the supervisor's life.
class SupervisorLock {
public:
    /// Creates the state dir (0700, with missing parents; an existing one
    /// with a looser mode is chmod'ed to 0700 when we own it), opens
    /// reins.lock (0600) and locks it without waiting. Held by another
    /// supervisor: LockErrc::busy, context "another supervisor (pid 812) is
    /// running on DIR (lock DIR/reins.lock)", and `*holder` (when given)
    /// receives what the lock file says (pid 0 if it says nothing yet).
    /// On success the lock file is rewritten with our LockInfo (`data`
    /// included) and reins.pid with our pid.
    static Result<SupervisorLock> acquire(const StatePaths& paths, std::string version,
                                          LockInfo* holder = nullptr, std::string data = {});

    SupervisorLock(SupervisorLock&& o) noexcept;
    SupervisorLock& operator=(SupervisorLock&& o) noexcept;
    SupervisorLock(const SupervisorLock&) = delete;
    SupervisorLock& operator=(const SupervisorLock&) = delete;
    /// Releases (see release()).
    ~SupervisorLock();

    /// Removes reins.pid, unlocks and closes reins.lock (the file stays:
    /// see the note at the top of this header). Idempotent.
    void release();

    /// After the state directory was removed or moved away (the file we hold
    /// is no longer at its path): creates the directory again, locks a new
    /// reins.lock there saying the same LockInfo, rewrites reins.pid, and
    /// only then lets go of the old file. LockErrc::busy (filling `*holder`)
    /// when another supervisor locked the new directory first: we then hold
    /// the old file still. Only while held().
    Result<void> relock(LockInfo* holder = nullptr);

    /// Unlocks and closes the file without touching the state directory:
    /// for a lock file removed with its folder, whose path (and reins.pid)
    /// now belongs to another supervisor. Idempotent.
    void abandon() noexcept;

    /// True until release() (or a move away).
    bool held() const noexcept { return fd_ >= 0; }
    /// What we wrote into reins.lock.
    const LockInfo& info() const noexcept { return info_; }
    /// What reins.lock said before we took it (read under our lock): the
    /// last supervisor of the directory, whose survivors may be left.
    const std::optional<LockInfo>& previous() const noexcept { return previous_; }
    /// The state directory locked.
    const StatePaths& paths() const noexcept { return paths_; }

private:
    SupervisorLock(StatePaths paths, int fd, LockInfo info);

    StatePaths paths_;
    int fd_ = -1;
    LockInfo info_;
    std::optional<LockInfo> previous_;
};

/// What reins.lock says and whether a living supervisor holds it, for
/// `status` and `stop` when the supervisor is not answering.
struct LockState {
    bool exists = false;            ///< reins.lock is there
    bool held = false;              ///< a living process holds the flock
    std::optional<LockInfo> info;   ///< its content, when it parses
};

/// Reads reins.lock and tests the flock with a non-blocking LOCK_SH that
/// is released at once (never blocks, never keeps the lock).
LockState inspect_lock(const StatePaths& paths);

}  // namespace reins::control
