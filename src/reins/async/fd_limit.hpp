// The open-file limit (RLIMIT_NOFILE): naming it in errors, raising it at start.
//
// A supervisor holds a few descriptors per service (pipes, log files,
// sockets), so the default soft limit (often 1024, 64 in tight containers)
// is the first resource it runs out of. reins raises its soft limit to the
// hard one when it starts (as systemd does for itself), and every EMFILE or
// ENFILE error it reports names the limit and what to do (see Error::message).
#pragma once

#include <string>

#include "reins/async/result.hpp"

namespace reins {

/// "RLIMIT_NOFILE 64 (soft), hard 4096" for this process, now.
std::string open_file_limit_text();

/// What to say after an EMFILE or ENFILE error: which limit was reached and
/// what to do about it ("raise it (ulimit -n) or run fewer services").
/// Empty for any other libuv status.
std::string open_file_limit_hint(int uv_status);

/// Raises the soft RLIMIT_NOFILE to the hard limit (no-op when equal).
/// Children inherit the raised limit.
Result<void> raise_open_file_limit();

}  // namespace reins
