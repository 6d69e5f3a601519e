#include "reins/supervisor/stop_escalation.hpp"

#include <algorithm>
#include <csignal>
#include <functional>

#include "reins/async/loop.hpp"
#include "reins/async/timer.hpp"
#include "reins/async/when.hpp"
#include "reins/supervisor/process_children.hpp"
#include "reins/supervisor/process_command.hpp"
#include "reins/supervisor/process_tree.hpp"

namespace reins::supervisor {
namespace {

using Clock = std::chrono::steady_clock;

Millis left(Clock::time_point deadline) {
    return std::max(Millis(0), std::chrono::duration_cast<Millis>(deadline - Clock::now()));
}

bool holds(const std::vector<ProcessRef>& refs, const ProcessRef& ref) {
    return std::find(refs.begin(), refs.end(), ref) != refs.end();
}

// The processes one stop deals with: the run's (its group, the processes
// carrying its REINS_INSTANCE, a main pid handed over with MAINPID=) and
// the strays found below them through their parents' children lists — a
// descendant that cleared its environment and called setsid() — which are
// remembered for the rest of the stop: once their parent is gone only
// reins, their subreaper, is linked to them.
class StopTargets {
public:
    explicit StopTargets(Instance& inst) : inst_(inst) {}

    /// Every live process of the run now (one pass over /proc); `on_found`
    /// sees each as it is found.
    ServiceProcesses scan(const FoundVisitor& on_found = {}) {
        ServiceProcesses now = inst_.scan_processes(on_found);
        add_strays(now, on_found);
        return now;
    }

    /// The same without a visitor, through a pass shared with the other
    /// services scanning in this turn of the loop, or none once nothing of
    /// the ended run can be left (Instance::scan_processes_shared).
    Task<ServiceProcesses> scan_shared() {
        ServiceProcesses now = co_await inst_.scan_processes_shared();
        add_strays(now, {});
        co_return now;
    }

    /// Adds to `now` the descendants of its processes that the scan cannot
    /// see (a few syscalls a process: done where a stop begins and in the
    /// freeze, never in the waiting loops).
    void look_below(ServiceProcesses& now, const FoundVisitor& on_found = {}) {
        const auto all = now.all();
        for (const ProcessRef& r : descendants_outside(all, all)) {
            strays_.push_back(r);
            now.outside.push_back(r);
            if (on_found) on_found(r, false);
        }
    }

    /// `sig` to the whole group at once (one kill(-pgid), which also
    /// reaches what its members fork meanwhile); false if that failed.
    bool signal_group(int sig) { return inst_.process().signal_group(sig).has_value(); }

    /// `sig` once to each process of `now`: the group with one kill(-pgid),
    /// the others one by one (a pid reached by both would get it twice).
    void signal(const ServiceProcesses& now, int sig) {
        if (!signal_group(sig)) signal_all(now.in_group, sig);  // gone, or not a group of its own
        signal_all(now.outside, sig);
    }

private:
    void add_strays(ServiceProcesses& now, const FoundVisitor& on_found) {
        std::erase_if(strays_, [](const ProcessRef& r) { return !process_alive(r); });
        for (const ProcessRef& r : strays_) {
            if (now.contains(r)) continue;
            now.outside.push_back(r);
            if (on_found) on_found(r, false);
        }
    }

    Instance& inst_;
    std::vector<ProcessRef> strays_;
};

pid_t first_pid(const ServiceProcesses& p) {
    if (!p.in_group.empty()) return p.in_group.front().pid;
    return p.outside.empty() ? 0 : p.outside.front().pid;
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

// Waits for the main process and every other process of the run until
// `deadline`. The main process's exit is an event; the others are not our
// children and have no exit event here, so they are looked for again at a
// short, growing interval (only during a stop: nothing polls while services
// run). `kill_at` is what `shown` says of SIGKILL meanwhile; `on_found`
// sees each process each scan finds.
Task<bool> wait_all_gone(Instance& inst, StopTargets& targets, Clock::time_point deadline, WaitShown& shown,
                         std::optional<Clock::time_point> kill_at, FoundVisitor on_found = {}) {
    if (!inst.process().exited()) {
        shown.waiting_for(inst.pid(), kill_at);
        auto wait = [&inst](std::stop_token s) { return inst.process().wait(std::move(s)); };
        auto st = co_await with_timeout(left(deadline), {}, wait);
        if (!st && !inst.process().exited()) co_return false;
    }
    Millis interval(2);
    for (;;) {
        ServiceProcesses rest;
        if (on_found) {
            rest = targets.scan(on_found);
        } else {
            auto shared = co_await targets.scan_shared();
            rest = std::move(shared);
        }
        if (rest.empty()) co_return true;
        shown.waiting_for(first_pid(rest), kill_at);
        if (Clock::now() >= deadline) co_return false;
        auto slept = co_await sleep(std::min(interval, left(deadline)));
        (void)slept;
        interval = std::min(interval * 2, Millis(100));
    }
}

// Step 4: SIGSTOP to everything found, scan after scan until one finds
// nothing that was not held already — a stopped process cannot fork (a fork
// racing a group SIGSTOP is undone by the kernel), so a tree that keeps
// forking replacements is held still — then SIGKILL to all of it at once.
// Processes outside the group are stopped the moment a scan reads them, so
// the time a scan takes is no time to fork in; a replacement forked just
// before its parent's SIGSTOP is found by the next round. Returns what was
// sent SIGKILL.
std::vector<ProcessRef> freeze_and_kill(StopTargets& targets) {
    const bool group_held = targets.signal_group(SIGSTOP);
    std::vector<ProcessRef> held;
    bool fresh = false;
    FoundVisitor hold = [&held, &fresh, group_held](const ProcessRef& r, bool in_group) {
        if ((in_group && group_held) || holds(held, r)) return;
        (void)signal_process(r, SIGSTOP);
        held.push_back(r);
        fresh = true;
    };
    ServiceProcesses now;
    for (int round = 0; round < 8; ++round) {  // a tree that outgrows the rounds is killed as the scans find it
        fresh = false;
        now = targets.scan(hold);
        targets.look_below(now, hold);
        if (!fresh) break;
    }
    targets.signal(now, SIGKILL);
    return now.all();
}

}  // namespace

Task<StopReport> stop_instance(Instance& inst, StopSpec spec, std::optional<StopWait>* waiting) {
    StopReport report;
    const auto started = Clock::now();
    const auto deadline = started + spec.timeout;
    WaitShown shown(waiting);
    StopTargets targets(inst);

    // Before anything is asked to exit: strays are found through living parents.
    ServiceProcesses now = co_await targets.scan_shared();
    targets.look_below(now);
    if (inst.process().exited() && now.empty()) {
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
            now = targets.scan();
        }
        // 2. graceful request
        if (spec.http && !inst.process().exited()) {
            ProbeTarget t = inst.probe_target(ProbeKind::http, spec.http->target);
            auto r = co_await http_action(t, spec.http->method, std::min(spec.pre_timeout, left(deadline)), {});
            if (r) {
                auto half = std::min(left(deadline), Millis(spec.timeout.count() / 2));
                bool gone = co_await wait_all_gone(inst, targets, Clock::now() + half, shown, deadline);
                if (gone) {
                    report.step = StopStep::http;
                    co_return report;
                }
            } else {
                report.notes.push_back("stop.http: " + r.error().message());
            }
            now = targets.scan();
        }
    }

    // 3. the stop signal, and SIGCONT so that a stopped process can act on
    // it: each once per process
    targets.signal(now, spec.signal);
    targets.signal(now, SIGCONT);
    bool gone = co_await wait_all_gone(inst, targets, deadline, shown, deadline);
    if (gone) {
        report.step = StopStep::signal;
        co_return report;
    }

    // 4. hold everything still and SIGKILL it, then 5. wait for it to be
    // gone; each scan meanwhile kills what it finds that was not killed yet
    std::vector<ProcessRef> killed = freeze_and_kill(targets);
    FoundVisitor kill_new = [&killed](const ProcessRef& r, bool) {
        if (holds(killed, r)) return;
        (void)signal_process(r, SIGKILL);
        killed.push_back(r);
    };
    for (;;) {
        bool dead = co_await wait_all_gone(inst, targets, Clock::now() + Millis(5000), shown, std::nullopt, kill_new);
        if (dead) break;
        report.notes.push_back("processes survive SIGKILL (uninterruptible sleep?); still trying");
        now = targets.scan();
        targets.signal(now, SIGKILL);
        killed = now.all();
    }
    report.step = StopStep::kill;
    co_return report;
}

namespace {

// `known` (those still alive) and whatever adopted_orphans() finds now.
std::vector<ProcessRef> orphans_now(const std::vector<ProcessRef>& known) {
    Loop& loop = Loop::current();
    std::function<bool(pid_t)> own = [&loop](pid_t pid) { return loop.owns_child(pid); };
    std::vector<ProcessRef> now = adopted_orphans(own);
    for (const ProcessRef& r : known)
        if (!holds(now, r) && process_alive(r)) now.push_back(r);
    return now;
}

// Sends `sig` to each of `refs` not in `sent`, and notes it there.
void signal_new(const std::vector<ProcessRef>& refs, std::vector<ProcessRef>& sent, int sig) {
    for (const ProcessRef& r : refs) {
        if (holds(sent, r)) continue;
        (void)signal_process(r, sig);
        if (sig == SIGTERM) (void)signal_process(r, SIGCONT);
        sent.push_back(r);
    }
}

}  // namespace

Task<std::size_t> stop_adopted_orphans(Millis grace) {
    std::vector<ProcessRef> found = orphans_now({});
    const std::size_t count = found.size();
    if (found.empty()) co_return 0;
    std::vector<ProcessRef> termed;
    signal_new(found, termed, SIGTERM);
    const auto kill_at = Clock::now() + grace;
    Millis interval(2);
    for (;;) {
        found = orphans_now(found);
        if (found.empty()) co_return count;
        if (Clock::now() >= kill_at) break;
        signal_new(found, termed, SIGTERM);
        auto slept = co_await sleep(std::min(interval, left(kill_at)));
        (void)slept;
        interval = std::min(interval * 2, Millis(100));
    }
    // Held still first, as in a service's stop, then killed.
    std::vector<ProcessRef> held;
    for (int round = 0; round < 8; ++round) {
        const std::size_t before = held.size();
        signal_new(found, held, SIGSTOP);
        found = orphans_now(found);
        if (held.size() == before) break;
    }
    std::vector<ProcessRef> killed;
    const auto give_up = Clock::now() + Millis(5000);  // the supervisor is exiting: never hang it
    interval = Millis(2);
    while (!found.empty() && Clock::now() < give_up) {
        signal_new(found, killed, SIGKILL);
        auto slept = co_await sleep(interval);
        (void)slept;
        interval = std::min(interval * 2, Millis(100));
        found = orphans_now(found);
    }
    co_return count;
}

}  // namespace reins::supervisor
