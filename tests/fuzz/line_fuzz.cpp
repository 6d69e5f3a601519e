// line_fuzz: the output line splitter (LineSplitter, the pure part of
// LineReader) against any bytes, cut into reads of any sizes, with any
// max_line. Checks what the supervisor relies on: no piece longer than
// max_line, no empty continuation, at most max_line bytes kept between reads, and the pieces put
// back together give the input again ('\n' before every piece that does
// not continue a cut line) — one piece at a time and in batches alike.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "reins/async/line_splitter.hpp"

namespace {

void require(bool ok) {
    if (!ok) std::abort();
}

struct Rebuilt {
    std::string text;
    bool first = true;
    void add(std::string_view piece, bool continuation, std::size_t max_line) {
        require(piece.size() <= max_line);
        require(!(first && continuation));
        require(!continuation || !piece.empty());  // a cut line goes on with at least one byte
        if (!first && !continuation) text.push_back('\n');
        text.append(piece);
        first = false;
    }
};

// Splits `input` read in chunks drawn from `seed`; one piece at a time, or in batches of at most 7.
std::string split_all(std::string_view input, std::size_t max_line, unsigned seed, bool batches) {
    reins::LineSplitter split(max_line);
    Rebuilt out;
    std::vector<reins::LineSplitter::Piece> pieces;
    auto drain = [&] {
        if (batches) {
            std::string_view data;
            while (split.take_all(data, pieces, 7)) {
                require(!pieces.empty() && pieces.size() <= 7);
                for (const auto& p : pieces) {
                    require(p.offset + p.size <= data.size());
                    out.add(data.substr(p.offset, p.size), p.continuation, max_line);
                }
            }
        } else {
            std::string_view text;
            bool cont = false;
            while (split.take(text, cont)) out.add(text, cont, max_line);
        }
    };
    std::size_t at = 0;
    while (at < input.size()) {
        seed = seed * 1103515245u + 12345u;
        const std::size_t n = std::min<std::size_t>(input.size() - at, 1 + (seed >> 16) % 300);
        split.append(input.substr(at, n));
        at += n;
        drain();
        require(split.buffered() <= max_line);  // bounded memory, whatever the input
    }
    split.finish();
    drain();
    require(split.buffered() == 0);
    return out.text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    // Byte 0: max_line (1..256); byte 1: a seed for the read sizes; the rest is the output.
    const std::size_t max_line = std::size_t(data[0]) + 1;
    const unsigned seed = data[1];
    const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
    // The input without its final '\n': a terminated last line and an
    // unterminated one come out the same.
    std::string_view expect = input;
    if (!expect.empty() && expect.back() == '\n') expect.remove_suffix(1);
    require(split_all(input, max_line, seed, false) == expect);
    require(split_all(input, max_line, seed, true) == expect);
    return 0;
}
