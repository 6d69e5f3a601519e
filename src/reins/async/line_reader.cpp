#include "reins/async/line_reader.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace reins {

LineReader::LineReader(Stream& s, std::size_t max_line) : stream_(&s), max_line_(std::max<std::size_t>(max_line, 1)) {}

LineReader::~LineReader() {
    wake(fail(Errc::cancelled, "line reader destroyed"));
    // pump_, destroyed next, unlinks its pending Stream read.
}

LineReader::NextAwaiter LineReader::next(std::stop_token stop) { return NextAwaiter(this, std::move(stop)); }

LineReader::BatchAwaiter LineReader::next_batch(std::stop_token stop) { return BatchAwaiter(this, std::move(stop)); }

bool LineReader::find(std::size_t& len, std::size_t& consume, bool& whole) {
    const char* base = buf_.data();
    const std::size_t end = buf_.size();
    const std::size_t from = std::max(scanned_, pos_);
    const void* nl = from < end ? std::memchr(base + from, '\n', end - from) : nullptr;
    whole = true;  // false: a max_line piece, more of the line follows
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
        return true;
    }
    scanned_ = end;
    const std::size_t avail = end - pos_;
    // Strictly longer than max_line: a line of exactly max_line bytes whose
    // '\n' is still in the pipe must not become a piece plus an empty
    // continuation.
    if (avail > max_line_) {
        consume = len = max_line_;
        whole = false;
        return true;
    }
    if (eof_ && avail > 0) {
        consume = len = avail;
        return true;
    }
    return false;
}

bool LineReader::take(Line& out) {
    std::size_t len = 0, consume = 0;
    bool whole = true;
    if (!find(len, consume, whole)) return false;
    out.text.assign(buf_.data() + pos_, len);
    out.continuation = continuing_;
    continuing_ = !whole;
    pos_ += consume;
    return true;
}

bool LineReader::take(Batch& out) {
    pieces_.clear();
    const std::size_t start = pos_;
    std::size_t len = 0, consume = 0;
    bool whole = true;
    while (pieces_.size() < max_batch && find(len, consume, whole)) {
        pieces_.push_back(Piece{pos_ - start, len, continuing_});
        continuing_ = !whole;
        pos_ += consume;
    }
    if (pieces_.empty()) return false;
    // The bytes stay where they are until the next append(), which only a
    // later call can cause: the views live exactly as long as promised.
    out.data = std::string_view(buf_.data() + start, pos_ - start);
    out.pieces = pieces_;
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

void LineReader::wake(Result<void> status) {
    if (Waiter* w = std::exchange(waiter_, nullptr)) w->finish(std::move(status));
}

Task<void> LineReader::pump(LineReader* self, std::stop_token stop) {
    // `self` outlives this frame: the reader's destructor destroys it.
    for (;;) {
        auto r = co_await self->stream_->read(stop);
        std::size_t len = 0, consume = 0;
        bool whole = true;
        if (r) {
            self->append(*r);  // copy now: the view dies with the next read
            if (!self->find(len, consume, whole)) continue;
            self->wake({});
        } else if (r.error().is(Errc::end_of_stream)) {
            self->eof_ = true;
            if (self->find(len, consume, whole)) self->wake({});  // the unterminated last line
            else self->wake(fail(std::move(r).error()));
        } else {
            self->wake(fail(std::move(r).error()));  // cancelled: the buffer is kept for the next call
        }
        co_return;
    }
}

// ---- Awaiter --------------------------------------------------------------------

template <class Out>
LineReader::Awaiter<Out>::~Awaiter() {
    if (reader_ && reader_->waiter_ == this) {
        reader_->waiter_ = nullptr;
        reader_->pump_ = Task<void>();  // its frame unlinks its Stream read
    }
}

template <class Out>
bool LineReader::Awaiter<Out>::await_ready() {
    LineReader* r = reader_;
    assert(r->waiter_ == nullptr && "LineReader::next awaited twice at once");
    Out out{};
    if (stop_.stop_requested()) done_.complete(fail(Errc::cancelled));
    else if (r->take(out)) done_.complete(std::move(out));
    else if (r->eof_) done_.complete(fail(Errc::end_of_stream));
    if (!done_.done()) return false;
    reader_ = nullptr;
    return true;
}

template <class Out>
std::coroutine_handle<> LineReader::Awaiter<Out>::await_suspend(std::coroutine_handle<> h) {
    done_.arm(h);
    LineReader* r = reader_;
    r->waiter_ = this;
    r->pump_ = pump(r, stop_);  // the previous refill has finished: its frame goes
    return r->pump_.handle();   // run it now; it completes us through the ready queue
}

template <class Out>
void LineReader::Awaiter<Out>::finish(Result<void> status) {
    LineReader* r = std::exchange(reader_, nullptr);
    if (!status) {
        done_.complete(fail(std::move(status).error()));
        return;
    }
    Out out{};
    [[maybe_unused]] bool took = r->take(out);
    assert(took && "LineReader woke a waiter with nothing to take");
    done_.complete(std::move(out));
}

template class LineReader::Awaiter<LineReader::Line>;
template class LineReader::Awaiter<LineReader::Batch>;

}  // namespace reins
