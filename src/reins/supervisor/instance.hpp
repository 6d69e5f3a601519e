// Instance: one run of a service — the spawned process and the small tasks
// that watch it (output capture, exit, readiness, liveness, sd_notify). The
// tasks only report what they see as InstanceEvents on a channel; the
// Service actor, the one owner of the state machine, decides what follows.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include "reins/async/channel.hpp"
#include "reins/async/datagram.hpp"
#include "reins/async/line_reader.hpp"
#include "reins/async/process.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/supervisor/log_pattern.hpp"
#include "reins/supervisor/output.hpp"
#include "reins/supervisor/probe.hpp"
#include "reins/supervisor/service_spec.hpp"
#include "reins/supervisor/service_message.hpp"
#include "reins/supervisor/service_state.hpp"

namespace reins::supervisor {

/// What an instance needs from its service and supervisor.
struct InstanceContext {
    Channel<ServiceMessage>* mailbox = nullptr;  ///< the Service actor's: events go there
    uint64_t generation = 0;         ///< tags the events of this run (stale ones are ignored)
    std::string instance_id;         ///< REINS_INSTANCE, unique to this start
    int port = 0;                    ///< chosen port (0: none)
    OutputSink* sink = nullptr;      ///< may be null: output is read and dropped
    std::deque<std::string>* recent = nullptr;  ///< the last output lines (bounded)
    std::string notify_path;         ///< sd_notify socket ("@…" abstract) when ready.notify
    /// The supervisor's environment ("K=V"), shared by every service.
    std::shared_ptr<const std::vector<std::string>> base_env;
};

/// One spawned run of a service. Create with launch(); always await
/// shutdown() before destroying it.
class Instance {
public:
    /// Spawns the service's command and starts its concern tasks. Fails
    /// (nothing left running) when the command cannot be spawned.
    static Result<std::unique_ptr<Instance>> launch(const ServiceSpec& spec, InstanceContext ctx);
    ~Instance();

    /// Starts the liveness task (after ready).
    void start_liveness();
    /// Stops the concern tasks (after the processes are gone) and joins them.
    /// Output already in the pipes is drained first, for at most `drain`.
    Task<void> shutdown(Millis drain);

    Process& process() { return proc_; }
    int pid() const { return pid_; }
    int port() const { return ctx_.port; }
    const std::string& id() const { return ctx_.instance_id; }
    const ServiceSpec& spec() const { return spec_; }
    /// The probe target of readiness or liveness for this run.
    ProbeTarget probe_target(ProbeKind kind, const std::string& target) const;

private:
    Instance(const ServiceSpec& spec, InstanceContext ctx);
    std::vector<std::string> environment() const;
    std::vector<std::string> argv() const;

    Task<void> capture(Stream pipe, bool err, std::stop_token stop);
    /// The index of the first line (or piece) of `lines` the ready.log pattern matches.
    std::optional<std::size_t> ready_index(const LineReader::Batch& lines) const;
    /// Keeps the last lines of `lines` in ctx_.recent (bounded).
    void keep_recent(const LineReader::Batch& lines);
    Task<void> watch_exit(std::stop_token stop);
    Task<void> readiness(std::stop_token stop);
    Task<void> liveness(std::stop_token stop);
    Task<void> notifications(std::stop_token stop);
    Task<void> watchdog(std::stop_token stop);
    /// Sends an event to the actor (waits while its mailbox is full).
    Channel<ServiceMessage>::SendAwaiter report(InstanceEvent::Kind kind, std::string detail = {}, ExitStatus st = {});

    const ServiceSpec& spec_;
    InstanceContext ctx_;
    Process proc_;
    int pid_ = 0;
    std::optional<LogPattern> ready_regex_;
    bool ready_seen_ = false;
    DatagramSocket notify_;
    Channel<int> watchdog_{1};  // WATCHDOG=1 pings, coalesced
    Channel<int> drained_{2};  // each capture task reports its end of stream
    int captures_ = 0;
    TaskScope tasks_;
    bool shut_down_ = false;
};

}  // namespace reins::supervisor
