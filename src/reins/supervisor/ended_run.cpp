#include "reins/supervisor/ended_run.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string>
#include <vector>

#include "reins/supervisor/proc_files.hpp"
#include "reins/supervisor/process_children.hpp"

namespace reins::supervisor {
namespace {

// Beyond this many children started since the run began, a pass over /proc
// (shared by the services stopping together) costs less than reading each.
constexpr int max_young_children = 16;

// The value of the first REINS_INSTANCE entry of `env`, or "" without one.
std::string_view instance_in(std::string_view env) {
    constexpr std::string_view key = "REINS_INSTANCE=";
    for (std::size_t pos = 0; pos < env.size();) {
        std::size_t end = std::min(env.find('\0', pos), env.size());
        std::string_view entry = env.substr(pos, end - pos);
        if (entry.substr(0, key.size()) == key) return entry.substr(key.size());
        pos = end + 1;
    }
    return {};
}

}  // namespace

bool adopts_orphans() {
    int flag = 0;
    if (::prctl(PR_GET_CHILD_SUBREAPER, &flag, 0, 0, 0) == 0 && flag != 0) return true;
    return ::getpid() == 1;
}

bool ended_run_left_nothing(pid_t pgid, std::string_view instance, uint64_t since) {
    if (pgid <= 1 || instance.empty() || since == 0 || !adopts_orphans()) return false;
    // A live member of the group (or one we may not signal: EPERM).
    if (::kill(-pgid, 0) == 0 || errno != ESRCH) return false;
    std::vector<pid_t> children;
    if (!list_children(::getpid(), children)) return false;
    const uid_t uid = ::geteuid();
    const std::string needle = "REINS_INSTANCE=" + std::string(instance);
    std::string buf;
    std::string_view text;
    int young = 0;
    for (pid_t child : children) {
        auto st = read_proc_stat(child);
        // Gone since listed (reaped by another thread): what it left may
        // have moved below a child already looked at.
        if (!st) return false;
        if (st->start_time < since) continue;  // older than the run: none of its own
        // A young zombie's children have just been re-parented: maybe below
        // a child already looked at.
        if (proc::dead_state(st->state) || st->pgrp == pgid) return false;
        if (++young > max_young_children) return false;
        const std::string path = "/proc/" + std::to_string(child) + "/environ";
        uid_t owner = uid;
        if (proc::read_file_at(AT_FDCWD, path.c_str(), buf, text, uid != 0 ? &owner : nullptr) != 0 || owner != uid)
            return false;
        // Another run's process (a service or probe spawned since, or what
        // one of them left) holds that run's own tag, and so does all it
        // forks; without any tag it may be one of ours that cleared its
        // environment after forking children that kept it.
        if (instance_in(text).empty() || proc::has_env_entry(text, needle)) return false;
    }
    return true;
}

}  // namespace reins::supervisor
