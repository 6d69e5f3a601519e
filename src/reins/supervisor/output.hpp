// OutputLine and OutputSink: where a service's stdout and stderr lines go.
#pragma once

#include <chrono>
#include <string>

#include "reins/async/task.hpp"

namespace reins::supervisor {

/// One line (or one 64 KiB piece of a longer line) a service printed.
struct OutputLine {
    std::string service;
    bool err = false;           ///< from stderr
    bool continuation = false;  ///< a 2nd, 3rd… piece of a line longer than 64 KiB
    std::string text;           ///< without the newline
    std::chrono::system_clock::time_point time;
};

/// Receives every service's output. The capture awaits write() before it
/// reads more of the pipe, so a sink that falls behind makes the child
/// block on its full pipe: memory stays bounded and nothing is dropped.
class OutputSink {
public:
    virtual ~OutputSink() = default;
    /// Takes one line; completes when the sink can take the next one.
    virtual Task<void> write(OutputLine line) = 0;
};

}  // namespace reins::supervisor
