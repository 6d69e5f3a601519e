// LineSplitter: bytes in, lines (and pieces of over-long lines) out — the
// pure part of LineReader, with no I/O, so that it can be tested and fuzzed
// on its own.
//
// Memory stays bounded whatever the input: what is kept between append()s
// is at most one unfinished line of max_line bytes plus the last chunk.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace reins {

class LineSplitter {
public:
    /// Where one line (or piece) lies in the data a take() returned.
    struct Piece {
        std::size_t offset = 0;     ///< into the data
        std::size_t size = 0;       ///< without the '\n'
        bool continuation = false;  ///< a 2nd, 3rd... piece of a line longer than max_line
    };

    /// Lines longer than `max_line` (>= 1) bytes are split into pieces of
    /// exactly max_line bytes (the last piece may be shorter).
    explicit LineSplitter(std::size_t max_line);

    /// Adds bytes read. Invalidates what an earlier take() returned.
    void append(std::string_view chunk);
    /// No more bytes will come: an unterminated last line becomes a line.
    void finish() noexcept { eof_ = true; }
    bool finished() const noexcept { return eof_; }

    /// The next line or piece, if one is complete; `text` views the buffer
    /// until the next append().
    bool take(std::string_view& text, bool& continuation);
    /// Every complete line or piece buffered, at most `max` of them, as
    /// pieces of `data` (valid until the next append()); false if none.
    bool take_all(std::string_view& data, std::vector<Piece>& pieces, std::size_t max);
    /// Is a line or piece complete now?
    bool ready();

    /// Bytes received and not yet returned as lines.
    std::size_t buffered() const noexcept { return buf_.size() - pos_; }

private:
    // Finds the next line or piece at pos_ without consuming it.
    bool find(std::size_t& len, std::size_t& consume, bool& whole);

    std::size_t max_line_;
    std::string buf_;          // [pos_, size) not yet returned; compacted before each append
    std::size_t pos_ = 0;
    std::size_t scanned_ = 0;  // [pos_, scanned_) holds no '\n' (no rescans of a long line)
    bool continuing_ = false;  // the next piece continues a split line
    bool eof_ = false;
};

}  // namespace reins
