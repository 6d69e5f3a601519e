#include "reins/supervisor/instance_id.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace reins::supervisor {
namespace {

// The whole of /proc/PID/environ into `buf`; false when it cannot be read.
bool read_environ(pid_t pid, std::string& buf) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/environ", static_cast<int>(pid));
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    buf.clear();
    char chunk[8192];
    for (;;) {
        ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        buf.append(chunk, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return true;
}

// The value of the REINS_INSTANCE entry of a NUL-separated environment, or "".
std::string_view instance_entry(std::string_view env) {
    constexpr std::string_view key = "REINS_INSTANCE=";
    for (std::size_t pos = 0; pos < env.size();) {
        std::size_t end = env.find('\0', pos);
        if (end == std::string_view::npos) end = env.size();
        std::string_view entry = env.substr(pos, end - pos);
        if (entry.substr(0, key.size()) == key) return entry.substr(key.size());
        pos = end + 1;
    }
    return {};
}

}  // namespace

std::string supervisor_tag(pid_t pid, uint64_t start_time) {
    return "." + std::to_string(pid) + "." + std::to_string(start_time) + ".";
}

std::string new_instance_id(std::string_view service) {
    static const std::string tag = [] {
        auto st = process_start_time(::getpid());
        return supervisor_tag(::getpid(), st ? *st : 0);
    }();
    static uint64_t counter = 0;
    return std::string(service) + tag + std::to_string(++counter);
}

std::vector<TaggedProcess> find_tagged_processes(std::string_view tag) {
    std::vector<TaggedProcess> out;
    if (tag.empty()) return out;
    DIR* dir = ::opendir("/proc");
    if (!dir) return out;
    const pid_t self = ::getpid();
    std::string env;
    while (dirent* e = ::readdir(dir)) {
        pid_t pid = 0;
        std::string_view name(e->d_name);
        auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
        if (ec != std::errc() || p != name.data() + name.size() || pid <= 1 || pid == self) continue;
        // The start time before the environment, checked again after it: the
        // environment read is then that process's, not a reused pid's.
        auto ref = process_ref(pid);
        if (!ref || !read_environ(pid, env)) continue;  // gone, or another user's
        std::string_view id = instance_entry(env);
        std::size_t at = id.rfind(tag);
        if (id.empty() || at == std::string_view::npos || at == 0) continue;
        if (!process_alive(*ref)) continue;
        out.push_back(TaggedProcess{*ref, std::string(id.substr(0, at)), std::string(id)});
    }
    ::closedir(dir);
    return out;
}

}  // namespace reins::supervisor
