// Whether an sd_notify message comes from a process of the service.
//
// The sender's pid is the one the kernel puts in SCM_CREDENTIALS (an
// unprivileged process cannot claim another's). Like systemd's
// NotifyAccess=all, any process of the service may speak for it; a process
// that is not the service's — another service's survivor, a stray script
// that found the socket — is ignored. A process belongs to the service when
// it is the main process (the spawned one, or the one MAINPID= named), is in
// the spawned process's group, descends from either main process, or
// carries the run's REINS_INSTANCE in its environment (a setsid'd
// grandchild whose parent is gone). A sender that has already exited and
// been reaped cannot be checked and is ignored, as systemd does: a client
// that exits right after sending should send BARRIER=1 and wait
// (`systemd-notify` does).
#pragma once

#include <sys/types.h>

#include <string_view>

namespace reins::supervisor {

/// The processes that define one run of a service, for the check.
///
/// A main process that sent a message and exited at once (STOPPING=1, then
/// exit) may be reaped before its message is read: a sender with a main
/// pid is still accepted then — the kernel stamped the pid when it was
/// sent, and another process could only hold that pid after a wrap of the
/// whole pid space in between. A parent chain through an exited main pid
/// proves nothing any more, so `*_running` says whether it still counts as
/// an ancestor.
struct ServiceProcessIds {
    pid_t spawned = 0;           ///< the spawned process
    bool spawned_running = true;  ///< …not yet reaped
    pid_t group = 0;             ///< its process group (its pid: it is spawned with setsid)
    pid_t main = 0;              ///< the main pid MAINPID= handed over to, 0 for none
    bool main_running = true;    ///< …not yet exited
    std::string_view instance;   ///< REINS_INSTANCE of the run
};

/// True if `sender` is a process of the service `ids` describes (see above).
/// Reads /proc: a few small files, only for a sender that is not a main pid.
bool is_service_process(pid_t sender, const ServiceProcessIds& ids);

}  // namespace reins::supervisor
