// Instance: one run of a service — the spawned process and the small tasks
// that watch it (output capture, exit, readiness, liveness, sd_notify). The
// tasks only report what they see as InstanceEvents on a channel; the
// Service actor, the one owner of the state machine, decides what follows.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include "reins/async/channel.hpp"
#include "reins/async/datagram.hpp"
#include "reins/async/line_reader.hpp"
#include "reins/async/pid_watch.hpp"
#include "reins/async/process.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/supervisor/log_pattern.hpp"
#include "reins/supervisor/notify_message.hpp"
#include "reins/supervisor/notify_sender.hpp"
#include "reins/supervisor/output.hpp"
#include "reins/supervisor/probe.hpp"
#include "reins/supervisor/process_tree.hpp"
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
    /// Human lines about the run (an ignored sd_notify sender); may be empty.
    std::function<void(const std::string&)> say;
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
    /// The spawned process's pid (also its process group).
    int pid() const { return pid_; }
    /// Its start time (/proc/PID/stat field 22; 0 if it could not be read).
    uint64_t start_time() const { return start_time_; }
    /// The main pid: the one sd_notify MAINPID= handed over to while it
    /// lives, else the spawned process's.
    int main_pid() const;
    /// How the main process ended, once it did and when reins could read
    /// it: the handed-over main pid's, else the spawned process's.
    std::optional<ExitStatus> exit_status() const;
    /// Every live process of the run: its process group, the processes
    /// carrying its REINS_INSTANCE, and a handed-over main pid.
    std::vector<ProcessRef> processes() const;
    /// The same, apart by process group, `on_found` called for each as the
    /// scan finds it (see scan_service).
    ServiceProcesses scan_processes(const FoundVisitor& on_found = {}) const;
    /// scan_processes() through a pass over /proc shared with the services
    /// that scan in the same turn of the loop, or none at all once the run
    /// has ended and can have left nothing (shared_scan.hpp).
    Task<ServiceProcesses> scan_processes_shared() const;
    /// The service said STOPPING=1: it is stopping by itself.
    bool stop_announced() const { return stop_announced_; }
    /// The latest STATUS= text; a status_text event is sent again only after
    /// this was taken (so a flood of STATUS= lines is one message in flight).
    std::string take_status_text();
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
    /// Lets the notifications task handle every datagram already sent (the
    /// sender's exit and its last message reach the loop in either order).
    Task<void> settle_notifications(std::stop_token stop);
    Task<void> readiness(std::stop_token stop);
    Task<void> liveness(std::stop_token stop);
    Task<void> notifications(std::stop_token stop);
    struct Note {
        InstanceEvent::Kind kind;
        std::string detail;
    };
    /// Acts on one sd_notify datagram at once (state, watchdog pings, the
    /// main pid) and returns what to report to the actor.
    std::vector<Note> absorb(const Datagram& d);
    void hand_over_main(pid_t pid, pid_t sender, std::vector<Note>& out);
    /// Who may speak for this run (notify_sender.hpp).
    ServiceProcessIds process_ids() const;
    /// Says `line` (prefixed with the service's name) once per run.
    void warn_once(bool& warned, const std::string& line);
    Task<void> watchdog(std::stop_token stop);
    /// Sends an event to the actor: waits while its mailbox is full, until
    /// the instance's tasks are stopped (a stop must not hang on a mailbox
    /// that the actor, busy stopping, does not read).
    Channel<ServiceMessage>::SendAwaiter report(InstanceEvent::Kind kind, std::string detail = {}, ExitStatus st = {});

    const ServiceSpec& spec_;
    InstanceContext ctx_;
    Process proc_;
    int pid_ = 0;
    uint64_t start_time_ = 0;
    bool adopted_at_launch_ = false;  // orphans of the run come to us (ended_run.hpp)
    std::optional<LogPattern> ready_regex_;
    bool ready_seen_ = false;
    DatagramSocket notify_;
    std::size_t absorbed_ = 0;  // datagrams of notify_ handled so far
    Channel<int> watchdog_{1};  // WATCHDOG=1 pings, coalesced
    std::string status_text_;   // the latest STATUS=
    bool status_queued_ = false;  // a status_text event is on its way to the actor
    bool stop_announced_ = false;
    bool warned_sender_ = false;  // an ignored sender was logged
    bool warned_main_ = false;    // an unusable MAINPID= was logged
    PidWatch main_watch_;         // the handed-over main pid (MAINPID=)
    ProcessRef main_ref_;
    Channel<int> main_moved_{1};  // wakes watch_exit when MAINPID= moves the main pid
    Channel<int> drained_{2};  // each capture task reports its end of stream
    int captures_ = 0;
    TaskScope tasks_ = TaskScope::shielded();
    bool shut_down_ = false;
};

}  // namespace reins::supervisor
