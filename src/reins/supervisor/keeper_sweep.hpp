// The keeper's own program: what the child forked by KeeperProcess runs
// (keeper_process.hpp) until its supervisor is gone, then the sweep that
// kills what that supervisor left behind.
//
// It runs in a child forked from a possibly multi-threaded host, so it is
// written for that: raw system calls, fixed stack and static buffers, no
// allocation, no locks, no stdio, no C++ library beyond constexpr helpers.
// Everything it needs (the tag, the socket) is prepared before the fork.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace reins::supervisor::keeper {

/// The messages the supervisor writes to the keeper, one int32 each.
/// A positive value: a process group to kill if the supervisor dies.
/// A negative value: that group (-value) ended; forget it.
constexpr int32_t disarm = 0;  ///< a clean shutdown: exit at EOF without a sweep

/// The keeper's life: closes every fd but `fd` (fds 0-2 become /dev/null),
/// leaves the terminal's session and process group, ignores the signals a
/// terminal or a shutdown sends to a group (SIGINT, SIGQUIT, SIGHUP,
/// SIGTERM, SIGPIPE), names itself "reins-keeper", and reads `fd` until
/// EOF. Then, unless it was disarmed, sweep(); then _exit(0).
[[noreturn]] void run(int fd, const char* tag, std::size_t tag_len) noexcept;

/// Kills every process (but the caller) whose environment holds
/// REINS_INSTANCE=<id> with `tag` inside the id (not at its start), and
/// every member of `groups`: each round freezes what it finds (SIGSTOP),
/// so that nothing forks or restarts a sibling while the round goes on,
/// then SIGKILLs it all; rounds repeat (at most `max_rounds`) until one
/// finds no tagged process left. Returns how many processes it signalled.
/// Async-signal-safe.
int sweep(const char* tag, std::size_t tag_len, const int32_t* groups, std::size_t group_count,
          int max_rounds = 100) noexcept;

/// True if /proc/PID/environ holds REINS_INSTANCE=<id> with `tag` inside
/// the id, not at its start. Async-signal-safe.
bool carries_tag(pid_t pid, const char* tag, std::size_t tag_len) noexcept;

}  // namespace reins::supervisor::keeper
