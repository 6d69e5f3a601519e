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
struct ServiceProcessIds {
    pid_t spawned = 0;  ///< the spawned process, 0 once it has exited (its pid may be reused)
    pid_t group = 0;    ///< its process group (its pid: it is spawned with setsid)
    pid_t main = 0;     ///< the main pid MAINPID= handed over to, 0 for none or once gone
    std::string_view instance;  ///< REINS_INSTANCE of the run
};

/// True if `sender` is a process of the service `ids` describes (see above).
/// Reads /proc: a few small files, only for a sender that is not a main pid.
bool is_service_process(pid_t sender, const ServiceProcessIds& ids);

}  // namespace reins::supervisor
