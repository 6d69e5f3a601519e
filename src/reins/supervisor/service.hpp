// Service: the actor that owns one service's state machine (docs/engine.md, States and their edges).
//
// run() is the only task that changes the state. Callers (the Supervisor,
// the control API, an embedding host) send it Commands; the instance's
// concern tasks send it InstanceEvents; both arrive in one mailbox, so the
// operations on a service are serialized (a restart while stopping waits for
// the stop, then starts). What each message does in each state is decided by
// the table in service_machine.hpp; the actor only carries it out.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "reins/async/channel.hpp"
#include "reins/supervisor/event_bus.hpp"
#include "reins/supervisor/instance.hpp"
#include "reins/supervisor/restart_policy.hpp"
#include "reins/supervisor/service_machine.hpp"
#include "reins/supervisor/service_message.hpp"
#include "reins/supervisor/service_spec.hpp"
#include "reins/supervisor/service_state.hpp"

namespace reins::supervisor {

/// What the services of one supervisor share.
struct ServiceContext {
    EventBus* events = nullptr;          ///< where transitions are published (required)
    OutputSink* sink = nullptr;          ///< where output lines go (null: dropped)
    std::string notify_dir;              ///< folder for sd_notify sockets ("": abstract names)
    /// The environment services inherit ("K=V"), one copy for all of them.
    std::shared_ptr<const std::vector<std::string>> base_env;
    /// Human lines about the services ("web: stop.pre: refused"); may be empty.
    std::function<void(const std::string&)> say;
    /// Told of the process group of each run as it is spawned (true) and
    /// once its processes are gone (false); may be empty. The supervisor's
    /// keeper process kills these groups if the supervisor dies.
    std::function<void(pid_t pgid, bool alive)> track_group;
};

/// What an event says beyond its states and reason (see ServiceEvent).
struct EventDetail {
    int attempt = 0;
    Millis delay{0};
    std::optional<int> failures;  ///< unset: the restarts counted in the window now
    std::string status_text;

    /// An event about a text: STATUS=, or why the service failed.
    static EventDetail about(std::string status_text) {
        EventDetail d;
        d.status_text = std::move(status_text);
        return d;
    }
    /// The start of restart `attempt` (0: not a restart).
    static EventDetail start_of(int attempt) {
        EventDetail d;
        d.attempt = attempt;
        return d;
    }
    /// The ending a restart decision follows: restart n after a delay, or
    /// the circuit opening (no attempt then); `why` it ended.
    static EventDetail ending(const RestartDecision& decision, std::string why) {
        EventDetail d;
        if (decision.action == RestartDecision::Action::restart) {
            d.attempt = decision.attempt;
            d.delay = decision.delay;
        }
        d.failures = decision.attempt;
        d.status_text = std::move(why);
        return d;
    }
};

class Service {
public:
    Service(ServiceSpec spec, ServiceContext ctx);
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;

    const ServiceSpec& spec() const noexcept { return spec_; }
    const std::string& name() const noexcept { return spec_.name; }
    /// A snapshot (valid until the next transition).
    const ServiceStatus& status() const noexcept { return status_; }

    /// The actor: runs until `stop` is requested; a running process is then
    /// stopped (the whole stop pipeline, docs/config.md `stop`) before it returns.
    Task<void> run(std::stop_token stop);

    /// Starts the service (a no-op if it runs) and completes once it is
    /// running — or, with wait_ready false, once it was spawned. Fails with
    /// the reason when the start fails (spawn error, port in use, readiness
    /// timeout, exit during startup) and no restart is pending.
    Task<Result<void>> start(bool wait_ready = true, std::stop_token stop = {});
    /// start(true) that also sends on `spawned` once the service was spawned
    /// (or could not be): one command, so a service that ends in between is
    /// not started twice.
    Task<Result<void>> start_reporting_spawn(std::shared_ptr<Channel<Result<void>>> spawned,
                                             std::stop_token stop = {});
    /// Stops the service; completes once no process of it is left. Fails with
    /// Errc::not_running when it was not running.
    Task<Result<void>> stop(std::stop_token stop = {});
    /// Stops (if running) and starts again; closes an open circuit.
    Task<Result<void>> restart(std::stop_token stop = {});

private:
    Task<Result<void>> ask(Command::Kind kind, bool wait_ready, std::stop_token stop,
                           std::shared_ptr<Channel<Result<void>>> spawned = nullptr);
    /// What a message is to the state table.
    MachineInput input_of(const ServiceMessage& msg) const;
    /// Carries out one step of a cell that is not I/O; a launch and a
    /// decision answer with the next input.
    std::optional<MachineInput> apply(const Step& step, ServiceMessage* msg);
    /// Publishes the transition of an Act::enter step.
    void enter(ServiceState to, Why why, const InstanceEvent* event);
    /// How the waiting starts are answered for `why`.
    Result<void> answer_for(Why why) const;
    /// Stops every process of the run and lets it go (no-op without one);
    /// `ended`: the run ended by itself, its last output is kept.
    Task<void> clear_away(bool ended);
    /// Stops every process of the run (docs/engine.md, "stop_instance"). After
    /// a liveness failure the hooks (stop.pre, stop.http) are skipped unless
    /// stop.hooks_when_unhealthy asks for them.
    Task<void> stop_run(Instance& inst, bool liveness_failure);
    /// The run's port: the last one while it is free (sticky), else a new one.
    Result<int> choose_port() const;
    Result<std::unique_ptr<Instance>> launch();
    void transition(ServiceState to, std::string reason, EventDetail detail = {});
    void answer_waiters(const Result<void>& r, bool spawned_only = false);

    ServiceSpec spec_;
    ServiceContext ctx_;
    ServiceStatus status_;
    RestartPolicy policy_;
    Channel<ServiceMessage> mailbox_{64};
    std::deque<std::string> recent_;
    uint64_t generation_ = 0;       // of runs: tags InstanceEvents
    uint64_t wake_generation_ = 0;  // of backoff timers: tags Wakeups
    int sticky_port_ = 0;           // the last run's port, kept across restarts (0 after a stop)
    std::unique_ptr<Instance> inst_;  // the run under way (null between runs)
    Error spawn_error_;             // why the last launch could not spawn
    Ending ending_;                 // how the last run ended by itself
    std::string end_reason_;        // …in words ("exit 3", "not ready within 30s")
    RestartDecision decision_;      // the restart policy's answer on that ending
    int restart_attempt_ = 0;       // the restart under way (0: none, or a manual start)
    // Start commands waiting for running (or spawned) and the pending stop replies.
    std::vector<Command> start_waiters_;
    std::vector<Command> stop_waiters_;
};

}  // namespace reins::supervisor
