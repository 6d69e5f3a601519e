// OutputBatch and OutputSink: where a service's stdout and stderr lines go.
//
// Output travels in batches: the lines one read of a pipe completed, with
// the service, the stream and the time given once. A flood of short lines
// then costs a sink an append per line, not a call, a coroutine frame and
// a string each (the target: ≥ 500 MB/s reaching the log file;
// docs/benchmarks.md).
#pragma once

#include <chrono>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>

#include "reins/async/line_reader.hpp"
#include "reins/async/task.hpp"

namespace reins::supervisor {

/// One line (or one 64 KiB piece of a longer line), owned: what a sink keeps
/// when it keeps lines, and what code that makes lines itself writes.
struct OutputLine {
    std::string service;
    bool err = false;           ///< from stderr
    bool continuation = false;  ///< a 2nd, 3rd… piece of a line longer than 64 KiB
    std::string text;           ///< without the newline
    std::chrono::system_clock::time_point time;
};

/// The lines one read of a service's stdout or stderr completed, in order.
/// A view: what it points at stays valid until the write() it was given to
/// completes (copy what must live longer).
struct OutputBatch {
    std::string_view service;
    bool err = false;                             ///< from stderr
    std::chrono::system_clock::time_point time;   ///< when the read completed (one stamp for all)
    std::string_view data;                        ///< the bytes the lines index
    std::span<const LineReader::Piece> lines;     ///< at least one; continuation: a piece after the first
    /// The capture's stop token: a sink that has to wait before it can take
    /// the lines (a full disk) stops waiting when it fires.
    std::stop_token stop;

    std::size_t size() const noexcept { return lines.size(); }
    /// Line i without its newline.
    std::string_view text(std::size_t i) const noexcept { return data.substr(lines[i].offset, lines[i].size); }
    bool continuation(std::size_t i) const noexcept { return lines[i].continuation; }
    /// Line i as an owned OutputLine.
    OutputLine line(std::size_t i) const {
        return OutputLine{std::string(service), err, continuation(i), std::string(text(i)), time};
    }
};

/// Receives every service's output. The capture awaits write() before it
/// reads more of the pipe, so a sink that falls behind makes the child
/// block on its full pipe: memory stays bounded and nothing is dropped.
class OutputSink {
public:
    virtual ~OutputSink() = default;
    /// Takes one batch; completes when the sink can take the next one.
    virtual Task<void> write(OutputBatch batch) = 0;
    /// One line on its own, as a batch of one (tests, callers that make
    /// single lines). A sink that overrides write() adds
    /// `using OutputSink::write;` to offer it too.
    Task<void> write(OutputLine line);
};

inline Task<void> OutputSink::write(OutputLine line) {
    const LineReader::Piece piece{0, line.text.size(), line.continuation};
    const std::span<const LineReader::Piece> one(&piece, 1);
    OutputBatch batch{line.service, line.err, line.time, line.text, one, {}};
    co_await write(batch);
}

}  // namespace reins::supervisor
