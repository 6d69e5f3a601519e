// The state machine of a service as one table: for every state and every
// input, what the Service actor does, in order, and the state it ends in.
//
// Pure (no I/O, no clock, no process): the actor turns what it receives into
// an Input, looks the cell up, and carries out its steps; the steps that are
// I/O (launching, clearing a run away, the backoff timer) it does itself, and
// some of them answer with a follow-up Input (a launch's outcome, the restart
// policy's decision) that is looked up in turn. docs/engine.md ("States and
// their edges") lists the edges this table has; a unit test keeps the two
// the same.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "reins/supervisor/service_state.hpp"

namespace reins::supervisor {

/// Everything the actor may be told.
enum class MachineInput {
    // Commands.
    start,             ///< start, answered once running
    start_spawn_only,  ///< start, answered once spawned
    stop,
    restart,
    shutdown,  ///< the supervisor stops (the actor's stop token)
    // The outcome of a launch (follow-up of Act::launch).
    spawned,           ///< readiness is checked: starting until it passes
    spawned_ready,     ///< no readiness check: ready once spawned
    spawn_failed,      ///< could not spawn; a retry may work
    spawn_impossible,  ///< could not spawn and never will (port in use, bad setting)
    // Reports of the current run.
    ready,
    start_timeout,
    exited,
    exited_announced,  ///< exited after the service said STOPPING=1
    unhealthy,
    unhealthy_announced,  ///< unhealthy after the service said STOPPING=1
    healthy,
    probe_failed,  ///< one liveness failure below the threshold
    notify_status,
    notify_stopping,
    notify_main_pid,
    /// A report of an earlier run (another generation).
    old_report,
    // The backoff timer.
    backoff_elapsed,
    old_backoff_elapsed,  ///< a timer of an earlier backoff
    // The restart policy's decision on an ending (follow-up of Act::decide).
    policy_restart,
    policy_give_up,
    policy_stay_stopped,
};

/// What one step of a cell does.
enum class Act {
    enter,  ///< publish the transition to `to`, for `why`
    // The command just received.
    answer_not_running,
    answer_done,
    answer_spawned_then_wait,  ///< a start: it was spawned already; the rest waits for running
    wait_start,                ///< the command waits for the next running (or spawn)
    wait_stop,                 ///< the command waits for the stop to end
    // The commands waiting.
    answer_spawned_waiters,  ///< the starts waiting for a spawn: done
    answer_start_waiters,    ///< every start waiting: ok for Why::ready, else failed for `why`
    answer_stop_waiters,     ///< the stops waiting: done
    // Bookkeeping.
    reset_restarts,       ///< a manual start or restart closes the circuit and counts afresh
    mark_stop_requested,  ///< the stop under way was asked for
    forget_port,          ///< a start after this chooses its port afresh
    note_spawn_error,     ///< the status text says why it could not spawn
    note_exit,            ///< how the main process ended
    note_unhealthy,       ///< health unhealthy, published as news in the same state
    note_healthy,         ///< health healthy, published when it changed
    note_probe_failed,
    note_status_text,  ///< STATUS=, published as news
    note_main_pid,     ///< MAINPID=, published as news
    // How the run ended (what the restart policy is asked about).
    end_spawn_failed,
    end_start_timeout,
    end_exit,
    end_exit_during_startup,
    end_exit_announced,
    end_unhealthy,
    decide,  ///< ask the restart policy; its answer is the next input
    // I/O.
    launch,                ///< its outcome is the next input
    start_liveness,
    clear_away_run,        ///< stop every process of the run (asked for)
    clear_away_ended_run,  ///< the same for a run that ended by itself; keeps its last output
    arm_backoff,           ///< count the restart, start the backoff timer
    disarm_backoff,
    leave,  ///< the actor ends
};

/// Why a transition happens, or how the waiting starts are answered.
enum class Why {
    none,
    spawned,
    start_requested,  ///< a start that could not spawn
    ready,
    ready_at_spawn,
    stop_requested,
    restart_requested,
    supervisor_stopping,
    notify_stopping,  ///< the service said STOPPING=1
    ended,            ///< the run ended by itself
    restart_scheduled,
    failed_to_start,
    circuit_open,
    could_not_spawn,
    stopped_by_step,  ///< a stop ended (its step is known by then)
    stopped_in_backoff,
};

struct Step {
    Act act = Act::enter;
    ServiceState to = ServiceState::stopped;  ///< Act::enter
    Why why = Why::none;                      ///< Act::enter, Act::answer_start_waiters
};

/// How a cell treats its input.
enum class Verdict {
    acts,
    stale,       ///< about a run, a timer or a startup that is over: ignored
    impossible,  ///< cannot happen in this state (the other code rules it out): ignored
};

struct Cell {
    Verdict verdict = Verdict::acts;
    std::vector<Step> steps;  ///< empty unless `acts`
    /// The state after the steps (the last Act::enter, else the same).
    ServiceState next(ServiceState from) const;
};

/// The table.
Cell service_cell(ServiceState state, MachineInput input);

inline constexpr std::array all_states{ServiceState::stopped,  ServiceState::starting,   ServiceState::running,
                                       ServiceState::stopping, ServiceState::restarting, ServiceState::failed};
inline constexpr std::array all_inputs{
    MachineInput::start,           MachineInput::start_spawn_only,    MachineInput::stop,
    MachineInput::restart,         MachineInput::shutdown,            MachineInput::spawned,
    MachineInput::spawned_ready,   MachineInput::spawn_failed,        MachineInput::spawn_impossible,
    MachineInput::ready,           MachineInput::start_timeout,       MachineInput::exited,
    MachineInput::exited_announced, MachineInput::unhealthy,          MachineInput::unhealthy_announced,
    MachineInput::healthy,         MachineInput::probe_failed,        MachineInput::notify_status,
    MachineInput::notify_stopping, MachineInput::notify_main_pid,     MachineInput::old_report,
    MachineInput::backoff_elapsed, MachineInput::old_backoff_elapsed, MachineInput::policy_restart,
    MachineInput::policy_give_up,  MachineInput::policy_stay_stopped,
};

std::string_view to_string(MachineInput i) noexcept;
std::string_view to_string(Act a) noexcept;
std::string_view to_string(Why w) noexcept;
std::string_view to_string(Verdict v) noexcept;

/// Every edge between two different states the table has, one a line,
/// sorted: "running -> stopping: stop, restart, ...". The inputs that lead
/// there are named; an edge passed through inside one cell (stopping on the
/// way to stopped) is named after the cell's input.
std::string render_service_edges();

}  // namespace reins::supervisor
