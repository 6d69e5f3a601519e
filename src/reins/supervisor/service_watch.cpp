// The Service actor while a run is alive, when it ends, and between runs.
#include "reins/async/duration_text.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/async/timer.hpp"
#include "reins/supervisor/process_tree.hpp"
#include "reins/supervisor/service.hpp"
#include "reins/supervisor/stop_escalation.hpp"

namespace reins::supervisor {
namespace {

using Clock = std::chrono::steady_clock;

LastExit last_exit_of(const ExitStatus& st) { return LastExit{st.code, st.signal}; }

// Sends a Wakeup into the mailbox after `delay`: the actor waits on its one
// mailbox only, never on a race of two sources that could lose a message.
Task<void> wake_after(Channel<ServiceMessage>* mailbox, Millis delay, uint64_t generation, std::stop_token stop) {
    auto slept = co_await sleep(delay, stop);
    if (!slept) co_return;
    auto sent = co_await mailbox->send(ServiceMessage(Wakeup{generation}), stop);
    (void)sent;
}

}  // namespace

std::string Service::stop_reason(Outcome o) {
    switch (o) {
    case Outcome::user_stop: return "stop requested";
    case Outcome::user_restart: return "restart requested";
    case Outcome::supervisor_stop: return "supervisor stopping";
    case Outcome::ended: break;
    }
    return "ended";
}

Task<Service::Outcome> Service::watch(Instance& inst, std::stop_token stop) {
    for (;;) {
        auto msg = co_await mailbox_.recv(stop);
        if (!msg) co_return Outcome::supervisor_stop;
        if (auto* cmd = std::get_if<Command>(&*msg)) {
            switch (cmd->kind) {
            case Command::Kind::start:
                if (status_.state == ServiceState::running || !cmd->wait_ready) {
                    cmd->answer({});
                } else {
                    cmd->answer_spawned({});  // it runs: spawned already
                    start_waiters_.push_back(std::move(*cmd));
                }
                continue;
            case Command::Kind::stop:
                stop_waiters_.push_back(std::move(*cmd));
                co_return Outcome::user_stop;
            case Command::Kind::restart:
                start_waiters_.push_back(std::move(*cmd));  // answered once running again
                co_return Outcome::user_restart;
            }
        }
        auto* e = std::get_if<InstanceEvent>(&*msg);
        if (!e || e->generation != generation_) continue;  // a Wakeup, or news of an older run
        using K = InstanceEvent::Kind;
        switch (e->kind) {
        case K::ready:
            if (status_.state != ServiceState::starting) break;
            transition(ServiceState::running, "ready: " + e->detail);
            inst.start_liveness();
            answer_waiters({});
            break;
        case K::start_timeout:
            if (status_.state != ServiceState::starting) break;
            ending_ = Ending{EndKind::start_failed};
            end_reason_ = e->detail;
            co_return Outcome::ended;
        case K::exited: {
            status_.last_exit = last_exit_of(e->status);
            std::string how = e->detail.empty() ? status_.last_exit->describe() : e->detail;
            if (inst.stop_announced()) {  // STOPPING=1 came first: it meant to stop
                ending_ = Ending{EndKind::announced_stop, e->status.code, e->status.signal};
                end_reason_ = how + " after STOPPING=1";
                co_return Outcome::ended;
            }
            bool starting = status_.state == ServiceState::starting;
            ending_ = Ending{starting ? EndKind::start_failed : EndKind::exited, e->status.code, e->status.signal};
            end_reason_ = how + (starting ? " during startup" : "");
            co_return Outcome::ended;
        }
        case K::unhealthy:
            if (inst.stop_announced()) break;  // stopping by itself: its exit is near, not a failure
            status_.health = Health::unhealthy;
            status_.status_text = e->detail;
            transition(status_.state, "unhealthy: " + e->detail, EventDetail::about(e->detail));
            ending_ = Ending{EndKind::unhealthy};
            end_reason_ = "unhealthy: " + e->detail;
            co_return Outcome::ended;
        case K::healthy:
            if (status_.health != Health::healthy) {
                status_.health = Health::healthy;
                transition(status_.state, "healthy: " + e->detail);
            }
            break;
        case K::probe_failed:
            status_.status_text = "health probe failed: " + e->detail;
            break;
        case K::status_text:
            // An event of its own: a host shows the service's words as they come.
            status_.status_text = inst.take_status_text();
            transition(status_.state, "STATUS=" + status_.status_text,
                       EventDetail::about(status_.status_text));
            break;
        case K::stopping:
            if (status_.state != ServiceState::starting && status_.state != ServiceState::running) break;
            if (status_.state == ServiceState::starting)
                answer_waiters(fail(Errc::spawn_failed, spec_.name + " reported STOPPING=1 before it was ready"));
            transition(ServiceState::stopping, "service reported STOPPING=1");
            break;
        case K::main_pid: {
            // The pid file, state.json and status show the new main pid.
            status_.pid = inst.main_pid();
            auto st = process_start_time(status_.pid);
            status_.pid_start_time = st ? *st : 0;
            transition(status_.state, "main pid " + std::to_string(status_.pid) + " (sd_notify MAINPID)");
            break;
        }
        }
    }
}

Task<void> Service::stop_run(Instance& inst, bool liveness_failure) {
    StopSpec steps = spec_.stop;
    if (liveness_failure && !steps.hooks_when_unhealthy) {
        // A hung service answers no request: straight to the signal.
        steps.pre.reset();
        steps.pre_exec.clear();
        steps.http.reset();
    }
    auto report = co_await stop_instance(inst, std::move(steps), &status_.stop_wait);
    status_.stopped_by = report.step;
    if (auto st = inst.exit_status()) status_.last_exit = last_exit_of(*st);  // the main pid's (MAINPID=)
    if (ctx_.say)
        for (const auto& note : report.notes) ctx_.say(spec_.name + ": " + note);
}

void Service::begin_ending(const RestartDecision& d) {
    // While what is left of the run is cleared away, the state already says
    // what comes next: restarting (or the circuit opening), or a stop.
    using A = RestartDecision::Action;
    if (d.action == A::stay_stopped) {
        // (Already `stopping` after the service's own STOPPING=1.)
        if (status_.state != ServiceState::stopping) transition(ServiceState::stopping, end_reason_);
    } else if (d.action == A::give_up) {
        // No restart follows: the circuit opens (`failed` comes next).
        transition(ServiceState::restarting, end_reason_,
                   EventDetail::ending(d, end_reason_));
    } else {
        restart_attempt_ = d.attempt;
        transition(ServiceState::restarting,
                   end_reason_ + "; restart " + std::to_string(d.attempt) + "/" +
                       std::to_string(spec_.restart.max_restarts) + " in " + human_duration(d.delay),
                   EventDetail::ending(d, end_reason_));
    }
}

Task<bool> Service::after_ending(RestartDecision d, std::stop_token stop) {
    using A = RestartDecision::Action;
    if (d.action == A::stay_stopped) {
        sticky_port_ = 0;
        transition(ServiceState::stopped, end_reason_);
        answer_waiters(fail(Errc::not_running, spec_.name + " ended: " + end_reason_));
        co_return false;
    }
    if (d.action == A::give_up) {
        status_.status_text = end_reason_;
        transition(ServiceState::failed,
                   "more than " + std::to_string(spec_.restart.max_restarts) + " restarts within " +
                       human_duration(spec_.restart.window) + "; last: " + end_reason_,
                   EventDetail::ending(d, end_reason_));
        answer_waiters(fail(Errc::spawn_failed, spec_.name + " failed: " + end_reason_));
        co_return false;
    }
    ++status_.restarts;
    const uint64_t gen = ++wake_generation_;
    TaskScope timer(stop);
    timer.spawn(wake_after(&mailbox_, d.delay, gen, timer.token()));
    bool again = true;
    for (;;) {
        auto msg = co_await mailbox_.recv(stop);
        if (!msg) {
            sticky_port_ = 0;
            status_.stop_requested = true;
            transition(ServiceState::stopped, "supervisor stopping");
            answer_waiters(fail(Errc::cancelled, "supervisor stopping"));
            again = false;
            break;
        }
        if (auto* w = std::get_if<Wakeup>(&*msg)) {
            if (w->generation == gen) break;
            continue;
        }
        auto* cmd = std::get_if<Command>(&*msg);
        if (!cmd) continue;  // news of the finished run
        if (cmd->kind == Command::Kind::stop) {
            sticky_port_ = 0;
            status_.stop_requested = true;
            transition(ServiceState::stopped, "stopped during the restart backoff");
            cmd->answer({});
            answer_waiters(fail(Errc::cancelled, spec_.name + " was stopped before it was ready"));
            again = false;
            break;
        }
        if (cmd->kind == Command::Kind::restart) {
            policy_.reset();
            status_.restarts = 0;
            restart_attempt_ = 0;
        }
        start_waiters_.push_back(std::move(*cmd));  // start now, answer once running
        break;
    }
    timer.request_stop();
    co_await timer.join();
    co_return again;
}

}  // namespace reins::supervisor
