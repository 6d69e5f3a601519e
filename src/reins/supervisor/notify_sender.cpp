#include "reins/supervisor/notify_sender.hpp"

#include "reins/supervisor/process_tree.hpp"

namespace reins::supervisor {
namespace {

// How far up the parent chain a descendant is looked for: deeper trees than
// this are covered by the REINS_INSTANCE check.
constexpr int max_depth = 64;

bool is_main(pid_t pid, const ServiceProcessIds& ids) {
    return (ids.spawned > 1 && pid == ids.spawned) || (ids.main > 1 && pid == ids.main);
}

bool is_live_main(pid_t pid, const ServiceProcessIds& ids) {
    return (ids.spawned > 1 && ids.spawned_running && pid == ids.spawned) ||
           (ids.main > 1 && ids.main_running && pid == ids.main);
}

}  // namespace

bool is_service_process(pid_t sender, const ServiceProcessIds& ids) {
    if (sender <= 1) return false;  // 0: no credentials; 1: init is nobody's service
    if (is_main(sender, ids)) return true;
    auto st = read_proc_stat(sender);
    if (!st) return false;  // gone: it cannot be checked
    // A process group id is not reused while a member lives, so the group
    // check holds even after the spawned process itself has exited.
    if (ids.group > 1 && st->pgrp == ids.group) return true;
    pid_t parent = st->ppid;
    for (int depth = 0; depth < max_depth && parent > 1; ++depth) {
        if (is_live_main(parent, ids)) return true;
        auto up = read_proc_stat(parent);
        if (!up) break;
        parent = up->ppid;
    }
    return carries_instance(sender, ids.instance);
}

}  // namespace reins::supervisor
