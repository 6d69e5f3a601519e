#include "reins/supervisor/process_command.hpp"

#include <fstream>
#include <string_view>

namespace reins::supervisor {
namespace {

std::string read_file(const std::string& path, std::size_t max) {
    std::ifstream in(path, std::ios::binary);
    std::string s(max, '\0');
    in.read(s.data(), static_cast<std::streamsize>(max));
    s.resize(static_cast<std::size_t>(in.gcount()));
    return s;
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
