// Passes over /proc bounded by a run's start time, and ProcessTable: one
// pass kept for many services at once.
//
// Every process that inherited a run's REINS_INSTANCE started no earlier
// than the run's first process, so only the environments of those are
// read — on a machine that runs long-lived processes, a small part of all.
//
// Stopping many services (a level of the dependency order, a supervisor
// shutting down) would otherwise read every process of the system once per
// service and per round: with 1000 services and 1000 processes that is a
// million reads. A table reads the system once and answers each service
// from memory what scan_service() would have found at that moment.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "reins/supervisor/process_tree.hpp"

namespace reins::supervisor {

/// scan_service() for a run whose first process started at `since` (field
/// 22 of its stat; 0: unknown): the environments of processes started
/// before it are not read.
ServiceProcesses scan_service(pid_t pgid, std::string_view instance, uint64_t since,
                              const FoundVisitor& on_found = {});

class ProcessTable {
public:
    /// Reads every live process but this one: its group, its start time and,
    /// for those started at or after `since` (clock ticks after boot, 0: all),
    /// the values of REINS_INSTANCE in its environment (our uid's processes,
    /// any as root).
    static ProcessTable read(uint64_t since);

    /// What scan_service(pgid, instance, since) finds in this table: the
    /// members of group `pgid` and, outside it, the processes started at or
    /// after `since` (not before the table's own) that carry exactly
    /// `REINS_INSTANCE=<instance>`.
    ServiceProcesses service(pid_t pgid, std::string_view instance, uint64_t since) const;

    std::size_t size() const { return entries_.size(); }

private:
    struct Entry {
        ProcessRef ref;
        pid_t pgrp = 0;
    };
    std::vector<Entry> entries_;
    std::unordered_map<pid_t, std::vector<std::size_t>> by_group_;               // pgrp → entries
    std::unordered_map<std::string, std::vector<std::size_t>> by_instance_;  // REINS_INSTANCE → entries
};

}  // namespace reins::supervisor
