// NotifyMessage: one sd_notify datagram, parsed (sd_notify(3); docs/engine.md).
//
// A datagram is newline-separated KEY=VALUE assignments. reins acts on
// READY=1, STATUS=…, STOPPING=1, MAINPID=N, WATCHDOG=1 and WATCHDOG=trigger;
// BARRIER=1 needs nothing beyond closing the descriptor sent with it (the
// socket does that on receipt); everything else (RELOADING=1, ERRNO=,
// FDSTORE=1, …) is ignored, as it is by other supervisors that do not
// implement it. Pure: no I/O, so every rule is unit-tested.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace reins::supervisor {

struct NotifyMessage {
    bool ready = false;                 ///< READY=1
    bool stopping = false;              ///< STOPPING=1
    bool watchdog = false;              ///< WATCHDOG=1: a keep-alive ping
    bool watchdog_trigger = false;      ///< WATCHDOG=trigger: fail the watchdog now
    bool barrier = false;               ///< BARRIER=1 (its descriptor is closed on receipt)
    std::optional<std::string> status;  ///< STATUS=… (the last one in the message)
    std::optional<pid_t> main_pid;      ///< MAINPID=N, a valid pid (> 1)
    /// A MAINPID= value that is not a pid > 1 ("MAINPID=abc"): ignored, but
    /// worth a word in the log.
    bool bad_main_pid = false;

    /// True if the message asks for nothing reins acts on.
    bool empty() const noexcept {
        return !ready && !stopping && !watchdog && !watchdog_trigger && !status && !main_pid;
    }
};

/// Parses one datagram. A message with a NUL byte is refused whole (nullopt),
/// as systemd does: what follows the NUL would be read differently by
/// different readers. A line without '=' and unknown keys are skipped; when
/// a key repeats, its last value counts. A trailing "\n" is allowed.
std::optional<NotifyMessage> parse_notify_message(std::string_view data);

}  // namespace reins::supervisor
