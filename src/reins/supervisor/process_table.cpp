#include "reins/supervisor/process_table.hpp"

#include <algorithm>

#include "reins/supervisor/proc_files.hpp"

namespace reins::supervisor {
namespace {

constexpr std::string_view instance_key = "REINS_INSTANCE=";

// Calls `fn` with the value of each REINS_INSTANCE entry of `env` (usually one).
template <class Fn>
void each_instance(std::string_view env, Fn fn) {
    for (std::size_t pos = 0; pos < env.size();) {
        std::size_t end = std::min(env.find('\0', pos), env.size());
        std::string_view entry = env.substr(pos, end - pos);
        if (entry.substr(0, instance_key.size()) == instance_key) fn(entry.substr(instance_key.size()));
        pos = end + 1;
    }
}

}  // namespace

ProcessTable ProcessTable::read(uint64_t since) {
    ProcessTable t;
    auto young = [since](pid_t, const ProcStat& st) { return st.start_time >= since; };
    proc::for_each_process(young, [&t](pid_t pid, const ProcStat& st, proc::Environ env, std::string_view text) {
        const std::size_t i = t.entries_.size();
        t.entries_.push_back(Entry{ProcessRef{pid, st.start_time}, st.pgrp});
        t.by_group_[st.pgrp].push_back(i);
        if (env != proc::Environ::read) return;
        each_instance(text, [&t, i](std::string_view id) {
            auto& at = t.by_instance_[std::string(id)];
            if (at.empty() || at.back() != i) at.push_back(i);
        });
    });
    return t;
}

ServiceProcesses ProcessTable::service(pid_t pgid, std::string_view instance, uint64_t since) const {
    ServiceProcesses out;
    if (pgid <= 1) pgid = 0;  // 0 and 1 would name far more than a service
    if (pgid != 0)
        if (auto it = by_group_.find(pgid); it != by_group_.end())
            for (std::size_t i : it->second) out.in_group.push_back(entries_[i].ref);
    if (!instance.empty())
        if (auto it = by_instance_.find(std::string(instance)); it != by_instance_.end())
            for (std::size_t i : it->second) {
                const Entry& e = entries_[i];
                if ((pgid == 0 || e.pgrp != pgid) && e.ref.start_time >= since) out.outside.push_back(e.ref);
            }
    return out;
}

}  // namespace reins::supervisor
