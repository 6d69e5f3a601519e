// spawn_child: starts a program the way execvp would, without forking reins.
//
// glibc's posix_spawn runs the child on a small stack of its own in reins'
// address space (clone(CLONE_VM | CLONE_VFORK)): no page table is copied,
// so a spawn costs the same whatever reins' heap, and posix_spawn returns
// once the child's execve succeeded, or with its errno. What the child does
// before the exec is what libuv's uv_spawn did: signals 1-31 to their
// default disposition and an empty signal mask, setsid() when asked, fd 0-2
// set up (dup2 of the given fd, /dev/null, or reins' own fd with its
// close-on-exec flag cleared), then chdir. Other fds are inherited unless
// close-on-exec, as with uv_spawn.
//
// execvp semantics kept on top of posix_spawn: a program without '/' is
// looked up in the PATH of the child's environment (posix_spawnp would use
// reins' own), a file the kernel cannot exec (ENOEXEC: a script without
// #!) runs under /bin/sh.
#pragma once

#include <sys/types.h>

#include <string>

namespace reins::detail {

/// What a child starts with.
struct ChildSetup {
    char* const* argv = nullptr;  ///< argv[0] is the program, as given (execvp style)
    char* const* envp = nullptr;  ///< the child's whole environment, never null
    const char* cwd = nullptr;    ///< chdir there first (a relative program is found from it); null: ours
    /// fd 0-2 of the child: -1 for /dev/null, the same number for reins' own
    /// fd, any other fd (>= 3) to dup2 there.
    int stdio[3] = {-1, -1, -1};
    bool new_session = true;  ///< setsid() in the child
};

/// Starts the child; 0 and its pid, or the errno that prevented it (from
/// the PATH lookup, the chdir, the stdio set-up or the execve).
int spawn_child(const ChildSetup& setup, pid_t* pid);

/// execvp's PATH search: the first candidate an execve would accept, in
/// `out`; 0, or ENOENT (nothing found) or EACCES (found, not executable).
/// `path` is the PATH value (null: glibc's default "/bin:/usr/bin"); a
/// relative candidate is checked from `cwd` (null: ours), where the child
/// will look for it. A `file` with a '/' is returned as is.
int find_program(const std::string& file, const char* path, const char* cwd, std::string& out);

}  // namespace reins::detail
