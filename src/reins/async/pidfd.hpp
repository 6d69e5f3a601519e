// open_pidfd: a file descriptor naming one process (Linux >= 5.3), readable
// once that process has exited; it cannot come to name another process, even
// after the pid is reused.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace reins::detail {

/// pidfd_open(pid, 0): the fd (always close-on-exec), or -1 with errno
/// (ENOSYS where the kernel or the headers lack it).
inline int open_pidfd(int pid) {
#ifdef SYS_pidfd_open
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

}  // namespace reins::detail
