// The sd_notify side of an Instance (docs/engine.md, "Readiness
// notification"): the datagrams of its NOTIFY_SOCKET, checked for their
// sender and acted on — READY=1, STATUS=, STOPPING=1, MAINPID=, WATCHDOG=.
#include "reins/async/timer.hpp"
#include "reins/supervisor/instance.hpp"
#include "reins/supervisor/notify_sender.hpp"

namespace reins::supervisor {

Task<void> Instance::notifications(std::stop_token stop) {
    for (;;) {
        auto msg = co_await notify_.receive(stop);
        if (!msg) co_return;
        std::vector<Note> notes = absorb(*msg);
        for (auto& n : notes) {
            auto sent = co_await report(n.kind, std::move(n.detail));
            if (!sent) co_return;
        }
    }
}

ServiceProcessIds Instance::process_ids() const {
    ServiceProcessIds ids;
    ids.spawned = pid_;
    ids.spawned_running = !proc_.exited();
    ids.group = pid_;
    ids.main = main_watch_.pid();
    ids.main_running = !main_watch_.exited();
    ids.instance = ctx_.instance_id;
    return ids;
}

void Instance::warn_once(bool& warned, const std::string& line) {
    if (warned) return;
    warned = true;
    if (ctx_.say) ctx_.say(spec_.name + ": " + line);
}

std::vector<Instance::Note> Instance::absorb(const Datagram& d) {
    ++absorbed_;
    std::vector<Note> out;
    auto m = parse_notify_message(d.data);
    if (!m) {
        warn_once(warned_sender_, "ignored an sd_notify message with a NUL byte from pid " + std::to_string(d.pid));
        return out;
    }
    if (m->empty()) return out;  // BARRIER=1 (its fd is already closed), or nothing reins acts on
    ServiceProcessIds ids = process_ids();
    if (!is_service_process(d.pid, ids)) {
        warn_once(warned_sender_, "ignored sd_notify messages from pid " + std::to_string(d.pid) +
                                      ", which is not a process of this service (only its processes may "
                                      "speak for it on " + notify_.path() + ")");
        return out;
    }
    // MAINPID= first, so that a READY=1 in the same message names the new pid.
    if (m->main_pid) hand_over_main(*m->main_pid, d.pid, out);
    else if (m->bad_main_pid) warn_once(warned_main_, "ignored a MAINPID= that is not a pid");
    if (m->status) {
        status_text_ = std::move(*m->status);
        if (!status_queued_) {  // one in flight: a flood of STATUS= is one message, the latest text
            status_queued_ = true;
            out.push_back({InstanceEvent::Kind::status_text, {}});
        }
    }
    if (m->ready && spec_.ready.kind == ProbeKind::notify && !ready_seen_) {
        ready_seen_ = true;
        out.push_back({InstanceEvent::Kind::ready, "sd_notify READY=1"});
    }
    if (m->stopping && !stop_announced_) {
        stop_announced_ = true;
        out.push_back({InstanceEvent::Kind::stopping, {}});
    }
    if (m->watchdog) (void)watchdog_.try_send(1);
    if (m->watchdog_trigger && spec_.health.kind == ProbeKind::watchdog)
        out.push_back({InstanceEvent::Kind::unhealthy, "the service sent WATCHDOG=trigger"});
    return out;
}

void Instance::hand_over_main(pid_t pid, pid_t sender, std::vector<Note>& out) {
    const bool moved = main_watch_ && !main_watch_.exited();
    if (pid == pid_) {  // back to the spawned process
        if (!moved) return;
        main_watch_.close();
        main_ref_ = {};
        (void)main_moved_.try_send(1);
        out.push_back({InstanceEvent::Kind::main_pid, std::to_string(pid)});
        return;
    }
    if (moved && main_watch_.pid() == pid) return;  // no change
    ServiceProcessIds ids = process_ids();
    const std::string what = "MAINPID=" + std::to_string(pid) + " from pid " + std::to_string(sender);
    if (!is_service_process(pid, ids)) {
        warn_once(warned_main_, "ignored " + what + ": pid " + std::to_string(pid) + " is not a process of this service");
        return;
    }
    auto ignored = [&](const Error& e) {
        warn_once(warned_main_, "ignored " + what + ": " + e.message() + " (the main process stays pid " +
                                    std::to_string(main_pid()) + ")");
    };
    auto ref = process_ref(pid);
    if (!ref) return ignored(ref.error());
    auto watch = PidWatch::open(pid);
    if (!watch) return ignored(watch.error());
    main_watch_ = std::move(*watch);
    main_ref_ = *ref;
    (void)main_moved_.try_send(1);
    out.push_back({InstanceEvent::Kind::main_pid, std::to_string(pid)});
}

Task<void> Instance::settle_notifications(std::stop_token stop) {
    if (!notify_) co_return;
    // The kernel queued every datagram sent before the exit; pull() takes
    // them now, and a turn of the loop lets the notifications task handle
    // what was handed to it. Bounded: a task stuck on a full mailbox is not
    // waited for long.
    for (int turn = 0; turn < 100; ++turn) {
        (void)notify_.pull();
        if (notify_.received() == absorbed_) co_return;
        auto slept = co_await sleep(Millis(0), stop);
        if (!slept) co_return;
    }
}

}  // namespace reins::supervisor
