// LineReader: lines from a Stream, with backpressure and bounded memory.
//
// The reader asks its Stream for the next chunk only when it is asked for a
// line and has no complete one buffered, and the Stream reads its handle only
// while someone awaits it: a slow consumer therefore stops the reading, and
// the producer on the other end blocks once the pipe is full. Whatever the
// producer does, the reader buffers at most max_line bytes of an unfinished
// line plus one read chunk (Stream::read_chunk).
#pragma once

#include <coroutine>
#include <cstddef>
#include <stop_token>
#include <string>

#include "reins/async/completion.hpp"
#include "reins/async/result.hpp"
#include "reins/async/stream.hpp"
#include "reins/async/task.hpp"

namespace reins {

/// Splits a Stream into lines. One next() at a time; the Stream must outlive
/// the reader. Not movable (pending awaiters point at it).
class LineReader {
public:
    /// One line, or one piece of a line longer than max_line.
    struct Line {
        /// The bytes as written, without the '\n'. A '\r' before it is kept:
        /// logs store what the program wrote, and a CRLF stays visible.
        std::string text;
        /// True for the 2nd, 3rd... pieces of a line split at max_line
        /// (written as out+/err+ in logs, SPEC §5.6).
        bool continuation = false;
    };

    /// Lines longer than `max_line` (>= 1) bytes are split into pieces of
    /// exactly max_line bytes (the last piece may be shorter).
    explicit LineReader(Stream& s, std::size_t max_line = 64 * 1024);
    /// A pending next() completes with Errc::cancelled.
    ~LineReader();
    LineReader(const LineReader&) = delete;
    LineReader& operator=(const LineReader&) = delete;

    class NextAwaiter;
    /// The next line. At the end of the stream an unterminated last line is
    /// returned as a line, then Errc::end_of_stream (again on every later
    /// call). Errc::cancelled on stop, losing nothing: buffered bytes are
    /// returned by the next call. Other read errors pass through.
    NextAwaiter next(std::stop_token stop = {});

    /// Bytes received and not yet returned as lines.
    std::size_t buffered() const noexcept { return buf_.size() - pos_; }

private:
    // Runs only when no line is buffered: reads chunks until one is, then
    // completes the waiter. Its frame lives in pump_ (one per refill, not
    // per line) and is destroyed with the reader or the waiter.
    static Task<void> pump(LineReader* self, std::stop_token stop);
    bool extract(Line& out);
    void append(std::string_view chunk);
    void deliver(Result<Line> r);

    Stream* stream_;
    std::size_t max_line_;
    std::string buf_;        // [pos_, size) not yet returned; compacted before each append
    std::size_t pos_ = 0;
    std::size_t scanned_ = 0;  // [pos_, scanned_) holds no '\n' (no rescans of a long line)
    bool continuing_ = false;  // the next piece continues a split line
    bool eof_ = false;
    NextAwaiter* waiter_ = nullptr;
    Task<void> pump_;
};

class LineReader::NextAwaiter {
public:
    NextAwaiter(LineReader* r, std::stop_token stop) : reader_(r), stop_(std::move(stop)) {}
    NextAwaiter(NextAwaiter&& o) noexcept : reader_(o.reader_), stop_(std::move(o.stop_)) {}
    /// A waiter dropped while pending stops its refill (the Stream read is
    /// unlinked; buffered bytes stay in the reader).
    ~NextAwaiter();

    /// Ready at once, without a frame or a read, when a line is buffered.
    bool await_ready();
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h);
    Result<Line> await_resume() { return done_.take(); }

private:
    friend class LineReader;
    LineReader* reader_;  // cleared once completed (the reader may then go away)
    std::stop_token stop_;
    detail::Completion<Result<Line>> done_;
};

}  // namespace reins
