#include "reins/supervisor/shared_scan.hpp"

#include <algorithm>
#include <vector>

#include "reins/async/loop.hpp"
#include "reins/supervisor/ended_run.hpp"
#include "reins/supervisor/process_table.hpp"

namespace reins::supervisor {
namespace {

// The requests of this thread's Loop not answered yet, in order; the first
// one leads (it is in the ready queue).
thread_local std::vector<SharedScan*> t_waiting;

}  // namespace

SharedScan::~SharedScan() {
    // Torn down while suspended (its coroutine destroyed unresumed).
    if (scheduled_) Loop::current().unschedule(handle_);
    auto it = std::find(t_waiting.begin(), t_waiting.end(), this);
    if (it == t_waiting.end()) return;
    t_waiting.erase(it);
    if (leads_ && !t_waiting.empty()) {  // the next request leads instead
        SharedScan* next = t_waiting.front();
        next->leads_ = next->scheduled_ = true;
        Loop::current().schedule(next->handle_);
    }
}

void SharedScan::await_suspend(std::coroutine_handle<> h) {
    handle_ = h;
    t_waiting.push_back(this);
    if (t_waiting.size() == 1) {
        // Behind every coroutine scheduled so far: their requests join this one.
        leads_ = scheduled_ = true;
        Loop::current().schedule(h);
    }
}

ServiceProcesses SharedScan::await_resume() {
    scheduled_ = false;
    if (!answered_) answer_all();
    return std::move(answer_);
}

void SharedScan::answer_all() {
    std::vector<SharedScan*> batch;
    batch.swap(t_waiting);
    if (batch.empty()) return;
    const ScanRequest& first = batch.front()->request_;
    if (batch.size() == 1 && first.ended && ended_run_left_nothing(first.pgid, first.instance, first.since)) {
        batch.front()->answered_ = true;  // nothing left: an empty answer
        return;
    }
    uint64_t since = first.since;
    for (const SharedScan* s : batch) since = std::min(since, s->request_.since);
    const ProcessTable table = ProcessTable::read(since);
    for (SharedScan* s : batch) {
        s->answer_ = table.service(s->request_.pgid, s->request_.instance, s->request_.since);
        s->answered_ = true;
        if (s->leads_) continue;  // running now
        s->scheduled_ = true;
        Loop::current().schedule(s->handle_);
    }
}

}  // namespace reins::supervisor
