// REINS_INSTANCE ids: unique to one start of one service, and naming the
// supervisor process that spawned it, so that its processes can be found
// again after that supervisor died — even one spawned an instant before the
// supervisor could write down its pid.
//
//   <service>.<supervisor pid>.<supervisor start time>.<counter>
//
// A pid with its start time (/proc/PID/stat field 22) names one process for
// the life of the machine; the state directory's reins.lock records both
// before the first spawn.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "reins/supervisor/process_tree.hpp"

namespace reins::supervisor {

/// ".<pid>.<start time>.": the part of an id that names its supervisor.
std::string supervisor_tag(pid_t pid, uint64_t start_time);

/// A new id for a start of `service` by this process (counter per process).
std::string new_instance_id(std::string_view service);

/// The tag in every id new_instance_id() makes in this process.
const std::string& own_supervisor_tag();

/// (find_tagged_processes, in process_tree.hpp, finds them again.)

}  // namespace reins::supervisor
