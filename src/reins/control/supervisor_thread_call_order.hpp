// The order in which a SupervisorThread's start, stop and restart calls
// reach the services (private to supervisor_thread*.cpp): a call waits for
// every earlier call about a service connected to its own through
// depends_on, either way round (a call about all services: for every
// earlier call), and calls about unrelated services run side by side. A
// stop overtakes an earlier start or restart that already reached the
// services and still waits for readiness: that one is cancelled.
#pragma once

#include <list>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "reins/async/task.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/control/service_command.hpp"
#include "reins/control/supervisor_thread_core.hpp"

namespace reins::control {

/// The start, stop and restart calls in flight on reins' thread.
class ServiceCallOrder {
public:
    /// `has_state_dir`: the supervisor keeps logs that `reins logs` reads
    /// (else hints point at the output events instead).
    ServiceCallOrder(SupervisorThread::Core* core, supervisor::Supervisor* sup, bool has_state_dir)
        : core_(core), sup_(sup), has_state_dir_(has_state_dir) {}
    ServiceCallOrder(const ServiceCallOrder&) = delete;
    ServiceCallOrder& operator=(const ServiceCallOrder&) = delete;

    /// Spawns `call` (start, stop or restart) on `ops`; it completes the
    /// call once it ran after the earlier ones it must follow.
    void submit(HostCall call, TaskScope& ops);
    /// The shutdown: every call in flight but a stop is cancelled ("cancelled
    /// by the shutdown"); stops run to the end.
    void cancel_all_but_stops();

private:
    struct Op;
    /// `names` and every service connected to them through depends_on.
    std::set<std::string> component(const std::vector<std::string>& names) const;
    Outcome outcome_of(const CommandReport& rep, const Op& op) const;
    static Task<void> run_op(ServiceCallOrder* self, std::shared_ptr<Op> op, HostCall call,
                             std::vector<std::shared_ptr<Op>> earlier);

    SupervisorThread::Core* core_;
    supervisor::Supervisor* sup_;
    bool has_state_dir_;
    std::list<std::shared_ptr<Op>> inflight_;
};

}  // namespace reins::control
