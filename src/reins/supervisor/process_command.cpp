#include "reins/supervisor/process_command.hpp"

#include <fcntl.h>

#include <string_view>

#include "reins/supervisor/proc_files.hpp"

namespace reins::supervisor {
namespace {

// The first `max` bytes of a /proc file ("" when it cannot be read). Plain
// reads, no stream: this runs when a stop waits, which may be when reins is
// out of descriptors.
std::string read_file(const std::string& path, std::size_t max) {
    std::string storage;
    std::string_view text;
    if (proc::read_file_at(AT_FDCWD, path.c_str(), storage, text) != 0) return {};
    return std::string(text.substr(0, max));
}

}  // namespace

std::string command_line(int pid) {
    constexpr std::size_t limit = 100;
    if (pid <= 0) return "?";
    std::string raw = read_file("/proc/" + std::to_string(pid) + "/cmdline", 4096);
    while (!raw.empty() && raw.back() == '\0') raw.pop_back();
    if (raw.empty()) {
        std::string comm = read_file("/proc/" + std::to_string(pid) + "/comm", 64);
        while (!comm.empty() && comm.back() == '\n') comm.pop_back();
        return comm.empty() ? std::string("?") : "[" + comm + "]";
    }
    std::string_view argv0(raw.c_str());  // up to the first NUL
    // A process that rewrote its title ("nginx: master process /usr/sbin/nginx") keeps it whole.
    if (argv0.find(' ') == std::string_view::npos && argv0.find('/') != std::string_view::npos) {
        raw.erase(0, argv0.rfind('/') + 1);
    }
    std::string line;  // NULs and control bytes (a newline in an arg) become one space
    for (char c : raw) {
        bool blank = static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
        if (!blank) line += c;
        else if (!line.empty() && line.back() != ' ') line += ' ';
    }
    if (line.size() > limit) {
        std::size_t cut = limit;
        while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;  // not mid UTF-8
        line = line.substr(0, cut) + "...";
    }
    return line;
}

}  // namespace reins::supervisor
