#include "reins/supervisor/service_machine.hpp"

#include <algorithm>
#include <map>

namespace reins::supervisor {
namespace {

using S = ServiceState;
using I = MachineInput;
using A = Act;

Step enter(S to, Why why) { return Step{A::enter, to, why}; }
Step answer_starts(Why why) { return Step{A::answer_start_waiters, S::stopped, why}; }
Step act(A a) { return Step{a, S::stopped, Why::none}; }

Cell acts(std::vector<Step> steps) { return Cell{Verdict::acts, std::move(steps)}; }
Cell stale() { return Cell{Verdict::stale, {}}; }
Cell impossible() { return Cell{Verdict::impossible, {}}; }

// Whether a run is alive: its reports are current, and a stop must clear it away.
bool run_alive(S s) { return s == S::starting || s == S::running || s == S::stopping; }

// ---- commands -----------------------------------------------------------------

Cell on_start(S s, bool wait_ready) {
    switch (s) {
    case S::stopped:
    case S::failed: return acts({act(A::reset_restarts), act(A::wait_start), act(A::launch)});
    case S::restarting: return acts({act(A::wait_start), act(A::disarm_backoff), act(A::launch)});
    case S::running: return acts({act(A::answer_done)});
    case S::starting:
    case S::stopping:
        // Spawned already; a start that waits for running waits (while
        // stopping by itself, until it is answered that the run ended).
        if (!wait_ready) return acts({act(A::answer_done)});
        return acts({act(A::answer_spawned_then_wait)});
    }
    return impossible();
}

Cell on_stop(S s) {
    switch (s) {
    case S::stopped:
    case S::failed: return acts({act(A::answer_not_running)});
    case S::restarting:
        return acts({act(A::forget_port), act(A::mark_stop_requested), enter(S::stopped, Why::stopped_in_backoff),
                     act(A::answer_done), answer_starts(Why::stop_requested), act(A::disarm_backoff)});
    case S::starting:
    case S::running:
    case S::stopping: {
        std::vector<Step> steps{act(A::wait_stop), act(A::mark_stop_requested)};
        if (s != S::stopping) steps.push_back(enter(S::stopping, Why::stop_requested));
        steps.insert(steps.end(), {act(A::clear_away_run), act(A::forget_port), enter(S::stopped, Why::stopped_by_step),
                                   act(A::answer_stop_waiters), answer_starts(Why::stop_requested)});
        return acts(std::move(steps));
    }
    }
    return impossible();
}

Cell on_restart(S s) {
    switch (s) {
    case S::stopped:
    case S::failed: return acts({act(A::reset_restarts), act(A::wait_start), act(A::launch)});
    case S::restarting:
        return acts({act(A::reset_restarts), act(A::wait_start), act(A::disarm_backoff), act(A::launch)});
    case S::starting:
    case S::running:
    case S::stopping: {
        // Through `stopped`, as the diagram has it; the port stays.
        std::vector<Step> steps{act(A::wait_start), act(A::mark_stop_requested)};
        if (s != S::stopping) steps.push_back(enter(S::stopping, Why::restart_requested));
        steps.insert(steps.end(), {act(A::clear_away_run), enter(S::stopped, Why::restart_requested),
                                   act(A::reset_restarts), act(A::launch)});
        return acts(std::move(steps));
    }
    }
    return impossible();
}

Cell on_shutdown(S s) {
    switch (s) {
    case S::stopped:
    case S::failed: return acts({act(A::leave)});
    case S::restarting:
        return acts({act(A::forget_port), act(A::mark_stop_requested), enter(S::stopped, Why::supervisor_stopping),
                     answer_starts(Why::supervisor_stopping), act(A::disarm_backoff), act(A::leave)});
    case S::starting:
    case S::running:
    case S::stopping: {
        std::vector<Step> steps{act(A::mark_stop_requested)};
        if (s != S::stopping) steps.push_back(enter(S::stopping, Why::supervisor_stopping));
        steps.insert(steps.end(), {act(A::clear_away_run), act(A::forget_port),
                                   enter(S::stopped, Why::supervisor_stopping),
                                   answer_starts(Why::supervisor_stopping), act(A::leave)});
        return acts(std::move(steps));
    }
    }
    return impossible();
}

// ---- a launch's outcome -----------------------------------------------------------

// Launches happen between runs only: from stopped or failed (a start), from
// restarting (the backoff passed, or a start cut it short), and from stopped
// again within a restart.
Cell on_launched(S s, I in) {
    if (run_alive(s)) return impossible();
    switch (in) {
    case I::spawned: return acts({enter(S::starting, Why::spawned), act(A::answer_spawned_waiters)});
    case I::spawned_ready:
        // Ready at spawn, decided here rather than by a report: an exit
        // already queued must not count as a failed startup.
        return acts({enter(S::starting, Why::spawned), act(A::answer_spawned_waiters),
                     enter(S::running, Why::ready_at_spawn), act(A::start_liveness), answer_starts(Why::ready)});
    case I::spawn_impossible:
        // Every start passes through `starting`, even one that could not
        // spawn; a busy port or a bad setting does not go away by retrying.
        return acts({act(A::note_spawn_error), enter(S::starting, Why::start_requested),
                     enter(S::failed, Why::could_not_spawn), answer_starts(Why::could_not_spawn)});
    case I::spawn_failed:
        return acts({act(A::note_spawn_error), enter(S::starting, Why::start_requested),
                     answer_starts(Why::could_not_spawn), act(A::end_spawn_failed), act(A::decide)});
    default: break;
    }
    return impossible();
}

// ---- reports of the current run ------------------------------------------------

Cell on_report(S s, I in) {
    // Between runs every report is of a run that is over.
    if (!run_alive(s)) return stale();
    const bool starting = s == S::starting;
    const bool stopping = s == S::stopping;  // only ever by the service's own STOPPING=1
    switch (in) {
    case I::ready:
        if (!starting) return stale();  // a startup that is over (or cut short by STOPPING=1)
        return acts({enter(S::running, Why::ready), act(A::start_liveness), answer_starts(Why::ready)});
    case I::start_timeout:
        if (!starting) return stale();
        return acts({act(A::end_start_timeout), act(A::decide)});
    case I::exited:
        // `stopping` here means STOPPING=1 was said, and then every exit is announced.
        if (stopping) return impossible();
        return acts({act(A::note_exit), act(starting ? A::end_exit_during_startup : A::end_exit), act(A::decide)});
    case I::exited_announced: return acts({act(A::note_exit), act(A::end_exit_announced), act(A::decide)});
    case I::unhealthy:
        if (stopping) return impossible();
        return acts({act(A::note_unhealthy), act(A::end_unhealthy), act(A::decide)});
    case I::unhealthy_announced: return stale();  // stopping by itself: its exit is near, not a failure
    case I::healthy: return acts({act(A::note_healthy)});
    case I::probe_failed: return acts({act(A::note_probe_failed)});
    case I::notify_status: return acts({act(A::note_status_text)});
    case I::notify_stopping:
        if (stopping) return impossible();  // said once per run
        if (starting)
            return acts({answer_starts(Why::notify_stopping), enter(S::stopping, Why::notify_stopping)});
        return acts({enter(S::stopping, Why::notify_stopping)});
    case I::notify_main_pid: return acts({act(A::note_main_pid)});
    default: break;
    }
    return impossible();
}

// ---- the restart policy's decision ---------------------------------------------

// Asked only while the run that ended is still the state (starting, running,
// or stopping by itself); the state says next what follows the ending while
// what is left of the run is cleared away.
Cell on_decision(S s, I in) {
    if (!run_alive(s)) return impossible();
    // A run that said STOPPING=1 and exited is never restarted.
    if (s == S::stopping && in != I::policy_stay_stopped) return impossible();
    std::vector<Step> steps;
    auto cleared = [&] {
        steps.push_back(act(A::clear_away_ended_run));
        if (s == S::starting) steps.push_back(answer_starts(Why::failed_to_start));
    };
    switch (in) {
    case I::policy_restart:
        steps.push_back(enter(S::restarting, Why::restart_scheduled));
        cleared();
        steps.push_back(act(A::arm_backoff));
        break;
    case I::policy_give_up:
        steps.push_back(enter(S::restarting, Why::ended));
        cleared();
        steps.insert(steps.end(), {enter(S::failed, Why::circuit_open), answer_starts(Why::circuit_open)});
        break;
    case I::policy_stay_stopped:
        if (s != S::stopping) steps.push_back(enter(S::stopping, Why::ended));
        cleared();
        steps.insert(steps.end(), {act(A::forget_port), enter(S::stopped, Why::ended), answer_starts(Why::ended)});
        break;
    default: return impossible();
    }
    return acts(std::move(steps));
}

}  // namespace

ServiceState Cell::next(ServiceState from) const {
    for (const Step& s : steps)
        if (s.act == Act::enter) from = s.to;
    return from;
}

Cell service_cell(ServiceState s, MachineInput in) {
    switch (in) {
    case I::start: return on_start(s, true);
    case I::start_spawn_only: return on_start(s, false);
    case I::stop: return on_stop(s);
    case I::restart: return on_restart(s);
    case I::shutdown: return on_shutdown(s);
    case I::spawned:
    case I::spawned_ready:
    case I::spawn_failed:
    case I::spawn_impossible: return on_launched(s, in);
    case I::ready:
    case I::start_timeout:
    case I::exited:
    case I::exited_announced:
    case I::unhealthy:
    case I::unhealthy_announced:
    case I::healthy:
    case I::probe_failed:
    case I::notify_status:
    case I::notify_stopping:
    case I::notify_main_pid: return on_report(s, in);
    case I::old_report: return stale();
    case I::backoff_elapsed:
        if (s != S::restarting) return stale();  // a timer whose backoff a command cut short
        return acts({act(A::disarm_backoff), act(A::launch)});
    case I::old_backoff_elapsed: return stale();
    case I::policy_restart:
    case I::policy_give_up:
    case I::policy_stay_stopped: return on_decision(s, in);
    }
    return impossible();
}

std::string_view to_string(MachineInput i) noexcept {
    switch (i) {
    case I::start: return "start";
    case I::start_spawn_only: return "start (no wait)";
    case I::stop: return "stop";
    case I::restart: return "restart";
    case I::shutdown: return "shutdown";
    case I::spawned: return "spawned";
    case I::spawned_ready: return "spawned (no readiness check)";
    case I::spawn_failed: return "spawn failed";
    case I::spawn_impossible: return "spawn impossible";
    case I::ready: return "ready";
    case I::start_timeout: return "start timeout";
    case I::exited: return "exit";
    case I::exited_announced: return "exit after STOPPING=1";
    case I::unhealthy: return "unhealthy";
    case I::unhealthy_announced: return "unhealthy after STOPPING=1";
    case I::healthy: return "healthy";
    case I::probe_failed: return "probe failed";
    case I::notify_status: return "STATUS=";
    case I::notify_stopping: return "STOPPING=1";
    case I::notify_main_pid: return "MAINPID=";
    case I::old_report: return "report of an earlier run";
    case I::backoff_elapsed: return "backoff";
    case I::old_backoff_elapsed: return "backoff of an earlier timer";
    case I::policy_restart: return "ended (restart)";
    case I::policy_give_up: return "ended (limit reached)";
    case I::policy_stay_stopped: return "ended (stays stopped)";
    }
    return "?";
}

std::string_view to_string(Act a) noexcept {
    switch (a) {
    case A::enter: return "enter";
    case A::answer_not_running: return "answer_not_running";
    case A::answer_done: return "answer_done";
    case A::answer_spawned_then_wait: return "answer_spawned_then_wait";
    case A::wait_start: return "wait_start";
    case A::wait_stop: return "wait_stop";
    case A::answer_spawned_waiters: return "answer_spawned_waiters";
    case A::answer_start_waiters: return "answer_start_waiters";
    case A::answer_stop_waiters: return "answer_stop_waiters";
    case A::reset_restarts: return "reset_restarts";
    case A::mark_stop_requested: return "mark_stop_requested";
    case A::forget_port: return "forget_port";
    case A::note_spawn_error: return "note_spawn_error";
    case A::note_exit: return "note_exit";
    case A::note_unhealthy: return "note_unhealthy";
    case A::note_healthy: return "note_healthy";
    case A::note_probe_failed: return "note_probe_failed";
    case A::note_status_text: return "note_status_text";
    case A::note_main_pid: return "note_main_pid";
    case A::end_spawn_failed: return "end_spawn_failed";
    case A::end_start_timeout: return "end_start_timeout";
    case A::end_exit: return "end_exit";
    case A::end_exit_during_startup: return "end_exit_during_startup";
    case A::end_exit_announced: return "end_exit_announced";
    case A::end_unhealthy: return "end_unhealthy";
    case A::decide: return "decide";
    case A::launch: return "launch";
    case A::start_liveness: return "start_liveness";
    case A::clear_away_run: return "clear_away_run";
    case A::clear_away_ended_run: return "clear_away_ended_run";
    case A::arm_backoff: return "arm_backoff";
    case A::disarm_backoff: return "disarm_backoff";
    case A::leave: return "leave";
    }
    return "?";
}

std::string_view to_string(Why w) noexcept {
    switch (w) {
    case Why::none: return "none";
    case Why::spawned: return "spawned";
    case Why::start_requested: return "start_requested";
    case Why::ready: return "ready";
    case Why::ready_at_spawn: return "ready_at_spawn";
    case Why::stop_requested: return "stop_requested";
    case Why::restart_requested: return "restart_requested";
    case Why::supervisor_stopping: return "supervisor_stopping";
    case Why::notify_stopping: return "notify_stopping";
    case Why::ended: return "ended";
    case Why::restart_scheduled: return "restart_scheduled";
    case Why::failed_to_start: return "failed_to_start";
    case Why::circuit_open: return "circuit_open";
    case Why::could_not_spawn: return "could_not_spawn";
    case Why::stopped_by_step: return "stopped_by_step";
    case Why::stopped_in_backoff: return "stopped_in_backoff";
    }
    return "?";
}

std::string_view to_string(Verdict v) noexcept {
    switch (v) {
    case Verdict::acts: return "acts";
    case Verdict::stale: return "stale";
    case Verdict::impossible: return "impossible";
    }
    return "?";
}

std::string render_service_edges() {
    // (from, to) -> the inputs whose cells pass along that edge, in table order.
    std::map<std::pair<S, S>, std::vector<std::string_view>> edges;
    for (S from : all_states) {
        for (I in : all_inputs) {
            S at = from;
            for (const Step& step : service_cell(from, in).steps) {
                if (step.act != Act::enter) continue;
                if (step.to != at) {
                    auto& names = edges[{at, step.to}];
                    if (std::find(names.begin(), names.end(), to_string(in)) == names.end())
                        names.push_back(to_string(in));
                }
                at = step.to;
            }
        }
    }
    std::string out;
    for (const auto& [edge, names] : edges) {
        out += std::string(to_string(edge.first)) + " -> " + std::string(to_string(edge.second)) + ":";
        const char* sep = " ";
        for (auto n : names) {
            out += sep;
            out += n;
            sep = ", ";
        }
        out += "\n";
    }
    return out;
}

}  // namespace reins::supervisor
