#include "reins/async/line_reader.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace reins {

LineReader::LineReader(Stream& s, std::size_t max_line) : stream_(&s), max_line_(std::max<std::size_t>(max_line, 1)) {}

LineReader::~LineReader() {
    if (NextAwaiter* w = std::exchange(waiter_, nullptr)) {
        w->reader_ = nullptr;
        w->done_.complete(fail(Errc::cancelled, "line reader destroyed"));
    }
    // pump_, destroyed next, unlinks its pending Stream read.
}

LineReader::NextAwaiter LineReader::next(std::stop_token stop) { return NextAwaiter(this, std::move(stop)); }

bool LineReader::extract(Line& out) {
    const char* base = buf_.data();
    const std::size_t end = buf_.size();
    const std::size_t from = std::max(scanned_, pos_);
    const void* nl = from < end ? std::memchr(base + from, '\n', end - from) : nullptr;
    std::size_t len = 0;      // bytes of text returned
    std::size_t consume = 0;  // bytes dropped from the buffer (text + '\n')
    bool whole = true;        // false: a max_line piece, more of the line follows
    if (nl) {
        const auto i = static_cast<std::size_t>(static_cast<const char*>(nl) - base);
        scanned_ = i;
        len = i - pos_;
        if (len <= max_line_) {
            consume = len + 1;
        } else {
            consume = len = max_line_;
            whole = false;
        }
    } else {
        scanned_ = end;
        const std::size_t avail = end - pos_;
        // Strictly longer than max_line: a line of exactly max_line bytes
        // whose '\n' is still in the pipe must not become a piece plus an
        // empty continuation.
        if (avail > max_line_) {
            consume = len = max_line_;
            whole = false;
        } else if (eof_ && avail > 0) {
            consume = len = avail;
        } else {
            return false;
        }
    }
    out.text.assign(base + pos_, len);
    out.continuation = continuing_;
    continuing_ = !whole;
    pos_ += consume;
    return true;
}

void LineReader::append(std::string_view chunk) {
    // Compact only here, once per chunk: what remains is an unfinished line
    // of at most max_line bytes, so the move is linear overall (never an
    // erase from the front per line).
    if (pos_ > 0) {
        buf_.erase(0, pos_);
        scanned_ = scanned_ > pos_ ? scanned_ - pos_ : 0;
        pos_ = 0;
    }
    buf_.append(chunk);
}

void LineReader::deliver(Result<Line> r) {
    if (NextAwaiter* w = std::exchange(waiter_, nullptr)) {
        w->reader_ = nullptr;
        w->done_.complete(std::move(r));
    }
}

Task<void> LineReader::pump(LineReader* self, std::stop_token stop) {
    // `self` outlives this frame: the reader's destructor destroys it.
    for (;;) {
        auto r = co_await self->stream_->read(stop);
        Line line;
        if (r) {
            self->append(*r);  // copy now: the view dies with the next read
            if (!self->extract(line)) continue;
            self->deliver(std::move(line));
        } else if (r.error().is(Errc::end_of_stream)) {
            self->eof_ = true;
            if (self->extract(line)) self->deliver(std::move(line));  // the unterminated last line
            else self->deliver(fail(std::move(r).error()));
        } else {
            self->deliver(fail(std::move(r).error()));  // cancelled: the buffer is kept for the next call
        }
        co_return;
    }
}

// ---- NextAwaiter --------------------------------------------------------------

LineReader::NextAwaiter::~NextAwaiter() {
    if (reader_ && reader_->waiter_ == this) {
        reader_->waiter_ = nullptr;
        reader_->pump_ = Task<void>();  // its frame unlinks its Stream read
    }
}

bool LineReader::NextAwaiter::await_ready() {
    LineReader* r = reader_;
    assert(r->waiter_ == nullptr && "LineReader::next awaited twice at once");
    Line line;
    if (stop_.stop_requested()) done_.complete(fail(Errc::cancelled));
    else if (r->extract(line)) done_.complete(std::move(line));
    else if (r->eof_) done_.complete(fail(Errc::end_of_stream));
    if (!done_.done()) return false;
    reader_ = nullptr;
    return true;
}

std::coroutine_handle<> LineReader::NextAwaiter::await_suspend(std::coroutine_handle<> h) {
    done_.arm(h);
    LineReader* r = reader_;
    r->waiter_ = this;
    r->pump_ = pump(r, stop_);  // the previous refill has finished: its frame goes
    return r->pump_.handle();   // run it now; it completes us through the ready queue
}

}  // namespace reins
