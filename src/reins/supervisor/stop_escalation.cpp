#include "reins/supervisor/stop_escalation.hpp"

#include <algorithm>
#include <csignal>

#include "reins/async/timer.hpp"
#include "reins/async/when.hpp"
#include "reins/supervisor/process_command.hpp"
#include "reins/supervisor/process_tree.hpp"

namespace reins::supervisor {
namespace {

using Clock = std::chrono::steady_clock;

Millis left(Clock::time_point deadline) {
    return std::max(Millis(0), std::chrono::duration_cast<Millis>(deadline - Clock::now()));
}

// Every process of the run still alive: the group, the instance tag, and a
// main pid handed over with MAINPID=.
std::vector<ProcessRef> survivors(Instance& inst) { return inst.processes(); }

// One /proc scan for all the signals (a scan costs about 1 ms per 100 processes).
void signal_everyone(Instance& inst, std::initializer_list<int> sigs) {
    auto rest = survivors(inst);
    for (int sig : sigs) {
        if (!inst.process().exited()) (void)inst.process().signal(sig);
        (void)inst.process().signal_group(sig);
        signal_all(rest, sig);
    }
}

// What the status shows while the stop waits (see StopWait).
class WaitShown {
public:
    explicit WaitShown(std::optional<StopWait>* slot) : slot_(slot) {}
    ~WaitShown() {
        if (slot_) slot_->reset();
    }
    WaitShown(const WaitShown&) = delete;
    WaitShown& operator=(const WaitShown&) = delete;

    /// Now waiting for `pid` (its command line is read once per pid).
    void waiting_for(int pid, std::optional<Clock::time_point> kill_at) {
        if (!slot_) return;
        if (!*slot_ || (*slot_)->pid != pid) *slot_ = StopWait{pid, command_line(pid), kill_at};
        (*slot_)->kill_at = kill_at;
    }

private:
    std::optional<StopWait>* slot_;
};

// Waits for the main process and every survivor until `deadline`. The main
// process's exit is an event; survivors that are not our children have no
// exit event here, so they are looked for again at a short, growing interval
// (only during a stop: nothing polls while services run). `kill_at` is what
// `shown` says of SIGKILL meanwhile.
Task<bool> wait_all_gone(Instance& inst, Clock::time_point deadline, WaitShown& shown,
                         std::optional<Clock::time_point> kill_at) {
    if (!inst.process().exited()) {
        shown.waiting_for(inst.pid(), kill_at);
        auto wait = [&inst](std::stop_token s) { return inst.process().wait(std::move(s)); };
        auto st = co_await with_timeout(left(deadline), {}, wait);
        if (!st && !inst.process().exited()) co_return false;
    }
    Millis interval(2);
    for (;;) {
        auto rest = survivors(inst);
        if (rest.empty()) co_return true;
        shown.waiting_for(rest.front().pid, kill_at);
        if (Clock::now() >= deadline) co_return false;
        auto slept = co_await sleep(std::min(interval, left(deadline)));
        (void)slept;
        interval = std::min(interval * 2, Millis(100));
    }
}

}  // namespace

Task<StopReport> stop_instance(Instance& inst, StopSpec spec, std::optional<StopWait>* waiting) {
    StopReport report;
    const auto started = Clock::now();
    const auto deadline = started + spec.timeout;
    WaitShown shown(waiting);

    if (inst.process().exited() && survivors(inst).empty()) {
        report.step = StopStep::exited_by_itself;
        co_return report;
    }

    if (!inst.process().exited()) {
        shown.waiting_for(inst.pid(), deadline);
        // 1. checkpoint
        if (spec.pre || !spec.pre_exec.empty()) {
            Millis budget = std::min(spec.pre_timeout, left(deadline));
            Result<void> r;
            if (spec.pre) {  // each co_await in its own statement (g++ 12)
                auto sent = co_await http_action(inst.probe_target(ProbeKind::http, spec.pre->target),
                                                 spec.pre->method, budget, {});
                r = std::move(sent);
            } else {
                auto ran = co_await probe_once(inst.probe_target(ProbeKind::exec, spec.pre_exec), budget, {});
                r = std::move(ran);
            }
            if (!r) report.notes.push_back("stop.pre: " + r.error().message());
        }
        // 2. graceful request
        if (spec.http && !inst.process().exited()) {
            ProbeTarget t = inst.probe_target(ProbeKind::http, spec.http->target);
            auto r = co_await http_action(t, spec.http->method, std::min(spec.pre_timeout, left(deadline)), {});
            if (r) {
                auto half = std::min(left(deadline), Millis(spec.timeout.count() / 2));
                bool gone = co_await wait_all_gone(inst, Clock::now() + half, shown, deadline);
                if (gone) {
                    report.step = StopStep::http;
                    co_return report;
                }
            } else {
                report.notes.push_back("stop.http: " + r.error().message());
            }
        }
    }

    // 3. the stop signal, and SIGCONT so that a stopped process can act on it
    signal_everyone(inst, {spec.signal, SIGCONT});
    bool gone = co_await wait_all_gone(inst, deadline, shown, deadline);
    if (gone) {
        report.step = StopStep::signal;
        co_return report;
    }

    // 4. SIGKILL to whatever is left, then 5. wait for it to be gone
    for (;;) {
        signal_everyone(inst, {SIGKILL});
        bool dead = co_await wait_all_gone(inst, Clock::now() + Millis(5000), shown, std::nullopt);
        if (dead) break;
        report.notes.push_back("processes survive SIGKILL (uninterruptible sleep?); still trying");
    }
    report.step = StopStep::kill;
    co_return report;
}

}  // namespace reins::supervisor
