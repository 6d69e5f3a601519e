#include "reins/async/line_splitter.hpp"

#include <algorithm>
#include <cstring>

namespace reins {

LineSplitter::LineSplitter(std::size_t max_line) : max_line_(std::max<std::size_t>(max_line, 1)) {}

bool LineSplitter::find(std::size_t& len, std::size_t& consume, bool& whole) {
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

bool LineSplitter::ready() {
    std::size_t len = 0, consume = 0;
    bool whole = true;
    return find(len, consume, whole);
}

bool LineSplitter::take(std::string_view& text, bool& continuation) {
    std::size_t len = 0, consume = 0;
    bool whole = true;
    if (!find(len, consume, whole)) return false;
    text = std::string_view(buf_.data() + pos_, len);
    continuation = continuing_;
    continuing_ = !whole;
    pos_ += consume;
    return true;
}

bool LineSplitter::take_all(std::string_view& data, std::vector<Piece>& pieces, std::size_t max) {
    pieces.clear();
    const std::size_t start = pos_;
    std::size_t len = 0, consume = 0;
    bool whole = true;
    while (pieces.size() < max && find(len, consume, whole)) {
        pieces.push_back(Piece{pos_ - start, len, continuing_});
        continuing_ = !whole;
        pos_ += consume;
    }
    if (pieces.empty()) return false;
    // The bytes stay where they are until the next append(): the views live
    // exactly as long as promised.
    data = std::string_view(buf_.data() + start, pos_ - start);
    return true;
}

void LineSplitter::append(std::string_view chunk) {
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

}  // namespace reins
