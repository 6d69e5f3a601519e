// SharedScan: the services that look for their processes in the same turn
// of the loop share one pass over /proc (a ProcessTable).
//
// When a level of services stops, or the supervisor shuts down, every
// service's stop begins in the same turn, and their mains exit at about the
// same time: each request waits until the coroutines already scheduled have
// run, then the first one reads /proc once for all that asked meanwhile and
// hands each its answer. The pass starts after every request was made, so
// no service gets an answer older than its question. A lone request for an
// ended run first asks ended_run_left_nothing(), which usually spares the
// pass (a service in a crash loop).
#pragma once

#include <sys/types.h>

#include <coroutine>
#include <cstdint>
#include <string>

#include "reins/supervisor/process_tree.hpp"

namespace reins::supervisor {

/// One service's question: the members of group `pgid` and the processes
/// started at or after `since` carrying `REINS_INSTANCE=<instance>`.
struct ScanRequest {
    pid_t pgid = 0;
    std::string instance;
    uint64_t since = 0;
    /// The run's first process has exited and been reaped, no other main
    /// pid of the run lives, and this process adopted orphans since before
    /// the run was spawned (ended_run.hpp): the pass may be skipped.
    bool ended = false;
};

/// Awaits the answer to one ScanRequest, on the calling thread's Loop.
/// May be destroyed while suspended (its coroutine torn down).
class SharedScan {
public:
    explicit SharedScan(ScanRequest request) : request_(std::move(request)) {}
    ~SharedScan();
    SharedScan(const SharedScan&) = delete;
    SharedScan& operator=(const SharedScan&) = delete;

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h);
    ServiceProcesses await_resume();

private:
    // Answers every request waiting on this thread: the first one's work,
    // done when it resumes.
    static void answer_all();

    ScanRequest request_;
    ServiceProcesses answer_;
    std::coroutine_handle<> handle_;
    bool leads_ = false;      // the first request: it answers all when it resumes
    bool scheduled_ = false;  // in the Loop's ready queue
    bool answered_ = false;
};

/// `co_await scan_shared(request)`: the processes `request` asks for.
inline SharedScan scan_shared(ScanRequest request) { return SharedScan(std::move(request)); }

}  // namespace reins::supervisor
