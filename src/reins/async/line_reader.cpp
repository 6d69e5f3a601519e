#include "reins/async/line_reader.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace reins {

LineReader::LineReader(Stream& s, std::size_t max_line) : stream_(&s), split_(max_line) {}

LineReader::~LineReader() {
    wake(fail(Errc::cancelled, "line reader destroyed"));
    // pump_, destroyed next, unlinks its pending Stream read.
}

LineReader::NextAwaiter LineReader::next(std::stop_token stop) { return NextAwaiter(this, std::move(stop)); }

LineReader::BatchAwaiter LineReader::next_batch(std::stop_token stop) { return BatchAwaiter(this, std::move(stop)); }

bool LineReader::take(Line& out) {
    std::string_view text;
    if (!split_.take(text, out.continuation)) return false;
    out.text.assign(text);
    return true;
}

bool LineReader::take(Batch& out) {
    if (!split_.take_all(out.data, pieces_, max_batch)) return false;
    out.pieces = pieces_;
    return true;
}

void LineReader::wake(Result<void> status) {
    if (Waiter* w = std::exchange(waiter_, nullptr)) w->finish(std::move(status));
}

Task<void> LineReader::pump(LineReader* self, std::stop_token stop) {
    // `self` outlives this frame: the reader's destructor destroys it.
    for (;;) {
        auto r = co_await self->stream_->read(stop);
        if (r) {
            self->split_.append(*r);  // copy now: the view dies with the next read
            if (!self->split_.ready()) continue;
            self->wake({});
        } else if (r.error().is(Errc::end_of_stream)) {
            self->split_.finish();
            if (self->split_.ready()) self->wake({});  // the unterminated last line
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
    else if (r->split_.finished()) done_.complete(fail(Errc::end_of_stream));
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
