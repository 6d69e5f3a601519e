#include "reins/async/resident_trim.hpp"

#include "reins/async/close_handle.hpp"
#include "reins/async/loop.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace reins {
namespace {

// One mapping of /proc/self/smaps, as far as the decision needs it.
struct Mapping {
    std::uintptr_t start = 0, end = 0;
    bool candidate = false;  // readable, not writable, private, file-backed
    std::size_t rss_kb = 0, anonymous_kb = 0, locked_kb = 0;
};

std::uintptr_t hex(std::string_view s) noexcept {
    std::uintptr_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v, 16);
    return v;
}

// "Rss:                 123 kB"
std::size_t kb_field(std::string_view line) noexcept {
    auto digits = line.find_first_of("0123456789");
    std::size_t v = 0;
    if (digits != std::string_view::npos) std::from_chars(line.data() + digits, line.data() + line.size(), v);
    return v;
}

// "7f..-7f.. r-xp 00000000 08:01 1234  /usr/bin/reins"
Mapping parse_header(std::string_view line) noexcept {
    Mapping m;
    auto dash = line.find('-');
    auto sp1 = line.find(' ');
    if (dash == std::string_view::npos || sp1 == std::string_view::npos || dash > sp1 || line.size() < sp1 + 6) return m;
    m.start = hex(line.substr(0, dash));
    m.end = hex(line.substr(dash + 1, sp1 - dash - 1));
    std::string_view perms = line.substr(sp1 + 1, 4);
    // offset, device, inode
    std::string_view rest = line.substr(sp1 + 6);
    std::size_t pos = 0;
    for (int field = 0; field < 2; ++field) {
        pos = rest.find(' ', pos);
        if (pos == std::string_view::npos) return m;
        ++pos;
    }
    auto inode_end = rest.find(' ', pos);
    std::string_view inode = rest.substr(pos, inode_end == std::string_view::npos ? rest.npos : inode_end - pos);
    bool file_backed = !inode.empty() && inode != "0";
    m.candidate = perms.size() == 4 && perms[0] == 'r' && perms[1] == '-' && perms[3] == 'p' && file_backed;
    return m;
}

// The mappings one trim drops, gathered before the first is dropped: after
// a drop, every instruction that runs maps its 64 KiB of code back in, so the
// drops come last, in a loop that touches nothing else.
struct Drops {
    static constexpr std::size_t most = 256;
    Mapping at[most];
    std::size_t count = 0;

    void consider(const Mapping& m) noexcept {
        if (!m.candidate || m.rss_kb == 0 || m.anonymous_kb != 0 || m.locked_kb != 0 || count == most) return;
        at[count++] = m;
    }
};

// Reads /proc/self/smaps whole (dropping pages while reading would change
// what is read) and gathers what may be dropped. False if it cannot be read.
bool gather(Drops& drops) noexcept {
    std::string text;
    try {
        int fd = ::open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
        if (fd < 0) return false;
        char buf[16384];
        for (;;) {
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            text.append(buf, static_cast<std::size_t>(n));
        }
        ::close(fd);
    } catch (...) {
        return false;
    }
    Mapping current;
    std::string_view all(text);
    while (!all.empty()) {
        auto nl = all.find('\n');
        std::string_view line = all.substr(0, nl);
        all = nl == std::string_view::npos ? std::string_view() : all.substr(nl + 1);
        if (line.empty()) continue;
        // Field lines start with a capitalised name and a colon; headers with a hex address.
        std::string_view first = line.substr(0, line.find(' '));
        if (!first.empty() && first.back() == ':') {
            if (first == "Rss:") current.rss_kb = kb_field(line);
            else if (first == "Anonymous:") current.anonymous_kb = kb_field(line);
            else if (first == "Locked:") current.locked_kb = kb_field(line);
            continue;
        }
        drops.consider(current);
        current = parse_header(line);
    }
    drops.consider(current);
    return true;
}

}  // namespace

TrimReport trim_resident_memory() noexcept {
    TrimReport report;
    static Drops drops;  // 12 KiB, not on the loop's stack; one trim at a time in a process
    drops.count = 0;
    if (!gather(drops)) return report;
    ::malloc_trim(0);
    for (std::size_t i = 0; i < drops.count; ++i) {
        const Mapping& m = drops.at[i];
        if (::madvise(reinterpret_cast<void*>(m.start), m.end - m.start, MADV_DONTNEED) != 0) continue;
        report.file_kb += m.rss_kb;
        ++report.mappings;
    }
    return report;
}

struct ResidentTrim::State {
    uv_prepare_t handle{};
    std::size_t trims = 0;
    TrimReport last;
};

ResidentTrim::ResidentTrim(Loop& loop) : state_(new State) {
    uv_prepare_init(loop.uv(), &state_->handle);
    state_->handle.data = state_;
}

ResidentTrim::~ResidentTrim() { detail::close_and_delete<State>(&state_->handle); }

void ResidentTrim::request() noexcept {
    // An active prepare handle does not keep the loop alive by itself once
    // unref'd: a trim asked for by a process about to exit is simply skipped.
    uv_prepare_start(&state_->handle, [](uv_prepare_t* h) {
        auto* st = static_cast<State*>(h->data);
        uv_prepare_stop(h);
        st->last = trim_resident_memory();
        ++st->trims;
    });
    uv_unref(reinterpret_cast<uv_handle_t*>(&state_->handle));
}

std::size_t ResidentTrim::trims() const noexcept { return state_->trims; }
TrimReport ResidentTrim::last() const noexcept { return state_->last; }

}  // namespace reins
