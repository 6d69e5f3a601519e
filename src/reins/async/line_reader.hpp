// LineReader: lines from a Stream, with backpressure and bounded memory.
//
// The reader asks its Stream for the next chunk only when it is asked for
// lines and has no complete one buffered, and the Stream reads its handle
// only while someone awaits it: a slow consumer therefore stops the reading,
// and the producer on the other end blocks once the pipe is full. Whatever
// the producer does, the reader buffers at most max_line bytes of an
// unfinished line plus one read chunk (Stream::read_chunk).
//
// Two ways to take lines: next() copies out one line at a time (simple
// callers: a handshake, a probe's banner); next_batch() hands over every
// line one read completed as views into the reader's buffer, so a flood
// costs a memchr per line and nothing else (the supervisor's output capture).
#pragma once

#include <coroutine>
#include <cstddef>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "reins/async/completion.hpp"
#include "reins/async/line_splitter.hpp"
#include "reins/async/result.hpp"
#include "reins/async/stream.hpp"
#include "reins/async/task.hpp"

namespace reins {

/// Splits a Stream into lines. One next() or next_batch() at a time; the
/// Stream must outlive the reader. Not movable (pending awaiters point at it).
class LineReader {
public:
    /// One line, or one piece of a line longer than max_line.
    struct Line {
        /// The bytes as written, without the '\n'. A '\r' before it is kept:
        /// logs store what the program wrote, and a CRLF stays visible.
        std::string text;
        /// True for the 2nd, 3rd... pieces of a line split at max_line
        /// (written as out+/err+ in logs: docs/cli.md, Logs).
        bool continuation = false;
    };

    /// Where one line (or piece) lies in a Batch's data (offset into
    /// Batch::data, size without the '\n', continuation as Line's).
    using Piece = LineSplitter::Piece;
    /// The lines (and pieces) buffered at once, in order, without a copy.
    /// Views into the reader: valid until the next next() or next_batch(),
    /// or the reader's destruction.
    struct Batch {
        std::string_view data;          ///< the bytes the pieces index (newlines included)
        std::span<const Piece> pieces;  ///< at least one
        std::string_view text(std::size_t i) const noexcept {
            return data.substr(pieces[i].offset, pieces[i].size);
        }
    };

    /// Lines longer than `max_line` (>= 1) bytes are split into pieces of
    /// exactly max_line bytes (the last piece may be shorter).
    explicit LineReader(Stream& s, std::size_t max_line = 64 * 1024);
    /// A pending next() or next_batch() completes with Errc::cancelled.
    ~LineReader();
    LineReader(const LineReader&) = delete;
    LineReader& operator=(const LineReader&) = delete;

    template <class Out>
    class Awaiter;
    using NextAwaiter = Awaiter<Line>;
    using BatchAwaiter = Awaiter<Batch>;

    /// The next line. At the end of the stream an unterminated last line is
    /// returned as a line, then Errc::end_of_stream (again on every later
    /// call). Errc::cancelled on stop, losing nothing: buffered bytes are
    /// returned by the next call. Other read errors pass through.
    NextAwaiter next(std::stop_token stop = {});
    /// Every complete line buffered, up to max_batch (reading one chunk at a
    /// time until there is at least one); otherwise as next(). A batch holds
    /// at most one chunk's lines plus the unfinished line that preceded it.
    BatchAwaiter next_batch(std::stop_token stop = {});
    /// The most lines a batch holds: a chunk of empty lines comes in a few
    /// batches, so the pieces' index stays small (and so does what a sink
    /// builds from one batch).
    static constexpr std::size_t max_batch = 4096;

    /// Bytes received and not yet returned as lines.
    std::size_t buffered() const noexcept { return split_.buffered(); }

private:
    // The pending next() or next_batch(), as the refill sees it.
    class Waiter {
    public:
        // ok: take() succeeds now; an error: the call fails with it.
        virtual void finish(Result<void> status) = 0;

    protected:
        ~Waiter() = default;
    };

    // Runs only when no line is buffered: reads chunks until one is, then
    // finishes the waiter. Its frame lives in pump_ (one per refill, not
    // per line) and is destroyed with the reader or the waiter.
    static Task<void> pump(LineReader* self, std::stop_token stop);
    bool take(Line& out);
    bool take(Batch& out);
    void wake(Result<void> status);

    Stream* stream_;
    LineSplitter split_;         // the bytes read, cut into lines
    std::vector<Piece> pieces_;  // the last batch's, reused
    Waiter* waiter_ = nullptr;
    Task<void> pump_;
};

template <class Out>
class LineReader::Awaiter : private LineReader::Waiter {
public:
    Awaiter(LineReader* r, std::stop_token stop) : reader_(r), stop_(std::move(stop)) {}
    Awaiter(Awaiter&& o) noexcept : reader_(o.reader_), stop_(std::move(o.stop_)) {}
    /// A waiter dropped while pending stops its refill (the Stream read is
    /// unlinked; buffered bytes stay in the reader).
    ~Awaiter();

    /// Ready at once, without a frame or a read, when a line is buffered.
    bool await_ready();
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h);
    Result<Out> await_resume() { return done_.take(); }

private:
    friend class LineReader;
    void finish(Result<void> status) override;

    LineReader* reader_;  // cleared once completed (a Line outlives the reader; a Batch does not)
    std::stop_token stop_;
    detail::Completion<Result<Out>> done_;
};

extern template class LineReader::Awaiter<LineReader::Line>;
extern template class LineReader::Awaiter<LineReader::Batch>;

}  // namespace reins
