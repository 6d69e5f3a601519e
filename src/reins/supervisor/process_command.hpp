// The command line of a process as people read it in one line of output:
// "port 5173 is in use by pid 812 (node vite)", "waiting for pid 4242
// (node server.js) to exit".
#pragma once

#include <string>

namespace reins::supervisor {

/// /proc/PID/cmdline as one line: argv[0] as its basename (the path is
/// noise next to the pid), arguments joined by single spaces, control bytes
/// as spaces, cut at 100 bytes (not inside a UTF-8 sequence) with "...".
/// "[comm]" like ps for a process without one (kernel thread, zombie); "?"
/// when the process is gone or not readable.
std::string command_line(int pid);

}  // namespace reins::supervisor
