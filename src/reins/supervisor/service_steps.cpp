// The steps of the state table (service_machine.hpp) that are not I/O, as
// the Service actor carries them out: the transitions in words, the answers
// to commands, the bookkeeping of an ending; and the clearing away of a run.
#include "reins/async/duration_text.hpp"
#include "reins/supervisor/process_tree.hpp"
#include "reins/supervisor/service.hpp"
#include "reins/supervisor/stop_escalation.hpp"

namespace reins::supervisor {
namespace {

using Clock = std::chrono::steady_clock;

LastExit last_exit_of(const ExitStatus& st) { return LastExit{st.code, st.signal}; }

// "exit 3", or what the report says when the status cannot say it.
std::string how_it_exited(const InstanceEvent& e) {
    return e.detail.empty() ? last_exit_of(e.status).describe() : e.detail;
}

}  // namespace

void Service::enter(ServiceState to, Why why, const InstanceEvent* event) {
    switch (why) {
    case Why::spawned:
        transition(to, "spawned pid " + std::to_string(inst_->pid()),
                   EventDetail::start_of(std::exchange(restart_attempt_, 0)));
        return;
    case Why::start_requested:
        transition(to, "start requested", EventDetail::start_of(std::exchange(restart_attempt_, 0)));
        return;
    case Why::ready: transition(to, "ready: " + (event ? event->detail : std::string())); return;
    case Why::ready_at_spawn: transition(to, "ready: spawned"); return;
    case Why::stop_requested: transition(to, "stop requested"); return;
    case Why::restart_requested: transition(to, "restart requested"); return;
    case Why::supervisor_stopping: transition(to, "supervisor stopping"); return;
    case Why::notify_stopping: transition(to, "service reported STOPPING=1"); return;
    case Why::ended:
        // `restarting` on the way to `failed` carries the ending; a stop does not.
        if (to == ServiceState::restarting) transition(to, end_reason_, EventDetail::ending(decision_, end_reason_));
        else transition(to, end_reason_);
        return;
    case Why::restart_scheduled:
        restart_attempt_ = decision_.attempt;
        transition(to,
                   end_reason_ + "; restart " + std::to_string(decision_.attempt) + "/" +
                       std::to_string(spec_.restart.max_restarts) + " in " + human_duration(decision_.delay),
                   EventDetail::ending(decision_, end_reason_));
        return;
    case Why::circuit_open:
        status_.status_text = end_reason_;
        transition(to,
                   "more than " + std::to_string(spec_.restart.max_restarts) + " restarts within " +
                       human_duration(spec_.restart.window) + "; last: " + end_reason_,
                   EventDetail::ending(decision_, end_reason_));
        return;
    case Why::could_not_spawn:
        transition(to, spawn_error_.message(), EventDetail::about(spawn_error_.message()));
        return;
    case Why::stopped_by_step:
        transition(to, "stopped (" + std::string(to_string(status_.stopped_by)) + ")");
        return;
    case Why::stopped_in_backoff: transition(to, "stopped during the restart backoff"); return;
    case Why::none:
    case Why::failed_to_start: break;
    }
    transition(to, std::string(to_string(why)));
}

Result<void> Service::answer_for(Why why) const {
    switch (why) {
    case Why::ready: return {};
    case Why::could_not_spawn: return fail(spawn_error_);
    case Why::stop_requested: return fail(Errc::cancelled, spec_.name + " was stopped before it was ready");
    case Why::supervisor_stopping: return fail(Errc::cancelled, "supervisor stopping");
    case Why::failed_to_start: return fail(Errc::spawn_failed, spec_.name + " failed to start: " + end_reason_);
    case Why::notify_stopping:
        return fail(Errc::spawn_failed, spec_.name + " reported STOPPING=1 before it was ready");
    case Why::ended: return fail(Errc::not_running, spec_.name + " ended: " + end_reason_);
    case Why::circuit_open: return fail(Errc::spawn_failed, spec_.name + " failed: " + end_reason_);
    default: break;
    }
    return fail(Errc::cancelled, spec_.name + ": " + std::string(to_string(why)));
}

std::optional<MachineInput> Service::apply(const Step& step, ServiceMessage* msg) {
    Command* cmd = msg ? std::get_if<Command>(msg) : nullptr;
    const InstanceEvent* event = msg ? std::get_if<InstanceEvent>(msg) : nullptr;
    const std::string detail = event ? event->detail : std::string();
    switch (step.act) {
    case Act::enter: enter(step.to, step.why, event); break;
    case Act::answer_not_running: cmd->answer(fail(Errc::not_running, spec_.name + " is not running")); break;
    case Act::answer_done: cmd->answer({}); break;
    case Act::answer_spawned_then_wait:
        cmd->answer_spawned({});
        start_waiters_.push_back(std::move(*cmd));
        break;
    case Act::wait_start: start_waiters_.push_back(std::move(*cmd)); break;
    case Act::wait_stop: stop_waiters_.push_back(std::move(*cmd)); break;
    case Act::answer_spawned_waiters: answer_waiters({}, /*spawned_only=*/true); break;
    case Act::answer_start_waiters: answer_waiters(answer_for(step.why)); break;
    case Act::answer_stop_waiters:
        for (auto& w : stop_waiters_) w.answer({});
        stop_waiters_.clear();
        break;
    case Act::reset_restarts:
        policy_.reset();
        status_.restarts = 0;
        restart_attempt_ = 0;
        break;
    case Act::mark_stop_requested: status_.stop_requested = true; break;
    case Act::forget_port: sticky_port_ = 0; break;
    case Act::note_spawn_error: status_.status_text = spawn_error_.message(); break;
    case Act::note_exit: status_.last_exit = last_exit_of(event->status); break;
    case Act::note_unhealthy:
        status_.health = Health::unhealthy;
        status_.status_text = detail;
        transition(status_.state, "unhealthy: " + detail, EventDetail::about(detail));
        break;
    case Act::note_healthy:
        if (status_.health == Health::healthy) break;
        status_.health = Health::healthy;
        transition(status_.state, "healthy: " + detail);
        break;
    case Act::note_probe_failed: status_.status_text = "health probe failed: " + detail; break;
    case Act::note_status_text:
        // An event of its own: a host shows the service's words as they come.
        status_.status_text = inst_->take_status_text();
        transition(status_.state, "STATUS=" + status_.status_text, EventDetail::about(status_.status_text));
        break;
    case Act::note_main_pid: {
        // The pid file, state.json and status show the new main pid.
        status_.pid = inst_->main_pid();
        auto st = process_start_time(status_.pid);
        status_.pid_start_time = st ? *st : 0;
        transition(status_.state, "main pid " + std::to_string(status_.pid) + " (sd_notify MAINPID)");
        break;
    }
    case Act::end_spawn_failed:
        ending_ = Ending{EndKind::start_failed};
        end_reason_ = spawn_error_.message();
        break;
    case Act::end_start_timeout:
        ending_ = Ending{EndKind::start_failed};
        end_reason_ = detail;
        break;
    case Act::end_exit:
        ending_ = Ending{EndKind::exited, event->status.code, event->status.signal};
        end_reason_ = how_it_exited(*event);
        break;
    case Act::end_exit_during_startup:
        ending_ = Ending{EndKind::start_failed, event->status.code, event->status.signal};
        end_reason_ = how_it_exited(*event) + " during startup";
        break;
    case Act::end_exit_announced:
        ending_ = Ending{EndKind::announced_stop, event->status.code, event->status.signal};
        end_reason_ = how_it_exited(*event) + " after STOPPING=1";
        break;
    case Act::end_unhealthy:
        ending_ = Ending{EndKind::unhealthy};
        end_reason_ = "unhealthy: " + detail;
        break;
    case Act::decide: {
        decision_ = policy_.decide(ending_, Clock::now());
        using D = RestartDecision::Action;
        switch (decision_.action) {
        case D::restart: return MachineInput::policy_restart;
        case D::give_up: return MachineInput::policy_give_up;
        case D::stay_stopped: return MachineInput::policy_stay_stopped;
        }
        break;
    }
    case Act::launch: {
        recent_.clear();
        auto launched = launch();
        if (!launched) {
            spawn_error_ = std::move(launched).error();
            // A busy port or a bad setting does not go away by retrying.
            const bool lasting = spawn_error_.code.category() == port_category() || spawn_error_.is(Errc::config);
            return lasting ? MachineInput::spawn_impossible : MachineInput::spawn_failed;
        }
        inst_ = std::move(*launched);
        const bool checked = spec_.ready.kind != ProbeKind::none || spec_.ready.after.count() > 0;
        return checked ? MachineInput::spawned : MachineInput::spawned_ready;
    }
    case Act::start_liveness: inst_->start_liveness(); break;
    // The I/O steps are the actor's own (run()).
    case Act::clear_away_run:
    case Act::clear_away_ended_run:
    case Act::arm_backoff:
    case Act::disarm_backoff:
    case Act::leave: break;
    }
    return std::nullopt;
}

Task<void> Service::clear_away(bool ended) {
    if (!inst_) co_return;  // a start that could not spawn left nothing
    co_await stop_run(*inst_, ended && ending_.kind == EndKind::unhealthy);
    if (ctx_.track_group) ctx_.track_group(inst_->pid(), false);
    co_await inst_->shutdown(Millis(200));
    // After shutdown(): the output still in the pipes is drained by now.
    if (ended) status_.last_output.assign(recent_.begin(), recent_.end());
    inst_.reset();
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

}  // namespace reins::supervisor
