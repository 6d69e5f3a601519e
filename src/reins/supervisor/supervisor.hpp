// Supervisor: many services, started in dependency order and stopped in
// reverse, answering start / stop / restart / status for one or all.
//
//   reins::Loop loop;
//   reins::supervisor::SupervisorOptions opts;  opts.sink = &my_sink;
//   reins::supervisor::Supervisor sup(opts);
//   sup.add({api_spec, web_spec});                 // web depends_on api
//   loop.run(main(sup));  // main: spawn sup.run(stop) in a TaskScope, then
//                         // co_await sup.start(), ..., request stop, join
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "reins/async/task_scope.hpp"
#include "reins/supervisor/event_bus.hpp"
#include "reins/supervisor/keeper_process.hpp"
#include "reins/supervisor/service.hpp"

namespace reins::supervisor {

struct SupervisorOptions {
    OutputSink* sink = nullptr;       ///< every service's output lines (null: dropped)
    std::string notify_dir;           ///< folder for sd_notify sockets ("": abstract names)
    /// Human lines about the services ("web: stop.pre: refused"); may be empty.
    std::function<void(const std::string&)> say;
    /// The environment services inherit; empty: this process's environment.
    std::vector<std::string> base_env;
    /// Make this process a child subreaper while run() is active, so that
    /// descendants that double-fork are re-parented to it, reaped, and
    /// stopped with their service (docs/engine.md, Behaviour worth
    /// knowing). Process-wide: off by default for embedding hosts; the reins
    /// executable turns it on.
    bool subreaper = false;
    /// Fork a keeper process while run() is active (keeper_process.hpp): if
    /// this process dies without stopping its services (SIGKILL, the OOM
    /// killer, a crash), the keeper kills every process of every service.
    bool keeper = true;
};

class Supervisor {
public:
    explicit Supervisor(SupervisorOptions options = {});
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    /// Adds a service (stopped). Fails (Errc::config), adding nothing, on a
    /// duplicate or empty name, an empty command, a dependency on a service
    /// that is not added yet, or a cycle ("web → api → web"). May be called
    /// while run() is active.
    Result<void> add(ServiceSpec spec);
    /// Adds several services at once, all or none: dependencies may name
    /// each other in any order (a config file's services).
    Result<void> add(std::vector<ServiceSpec> specs);

    /// Runs the service actors until `stop`; then stops every service in
    /// reverse dependency order and returns.
    Task<void> run(std::stop_token stop);

    /// (start, stop and restart are carried out by the service actors that
    /// run() runs: asked before run() is active, they wait for it; once
    /// run() has returned, a service asked fails with Errc::channel_closed.)
    /// Starts `names` (empty: all) and what they depend on: each service as
    /// soon as its dependencies are running ("ready", the default) or
    /// spawned ("started"). Completes once each of them is running (a
    /// dependency only as far as its dependents asked) or has failed, with
    /// the first failure in the order the services were added (a failed
    /// service's dependents are not started; the rest go on). Fails with
    /// Errc::not_found, starting nothing, for an unknown name.
    Task<Result<void>> start(std::vector<std::string> names = {}, std::stop_token stop = {});
    /// Stops `names` (empty: all) — and what depends on them, first — in
    /// reverse dependency order, services of one level concurrently.
    /// Fails with Errc::not_found for an unknown name (stopping nothing),
    /// Errc::not_running when a named service was not running (the others
    /// are stopped all the same).
    Task<Result<void>> stop(std::vector<std::string> names = {}, std::stop_token stop = {});
    /// Stops (if running) and starts `name` alone: neither what it depends
    /// on nor what depends on it. Closes an open circuit; Errc::not_found
    /// for an unknown name.
    Task<Result<void>> restart(std::string name, std::stop_token stop = {});

    /// The service called `name`, or nullptr.
    Service* find(const std::string& name) const;
    /// The keeper process's pid while run() is active (0: none).
    pid_t keeper_pid() const noexcept { return keeper_ ? keeper_->pid() : 0; }
    /// Orphans reaped by the subreaper so far (0 without one).
    uint64_t orphans_reaped() const noexcept { return orphans_reaped_; }
    /// Every service's status, in the order they were added.
    std::vector<ServiceStatus> status() const;
    std::vector<std::string> names() const { return order_; }
    EventBus& events() noexcept { return events_; }

private:
    /// name → depth in the dependency graph (0: depends on nothing).
    std::map<std::string, int> levels() const;
    Result<std::vector<std::string>> resolve(const std::vector<std::string>& names) const;
    /// Where one service of a start() got to, for the services that depend on it.
    struct StartGate {
        Channel<int> spawned{1};  ///< closed once it was spawned (or will not be)
        Channel<int> ready{1};    ///< closed once it is running (or will not be)
        bool needs_ready = false;  ///< named, or a dependent waits for its readiness
        std::optional<Error> failed;
        void open() {
            spawned.close();
            ready.close();
        }
    };
    Task<void> start_when_ready(Service* svc, std::map<std::string, std::unique_ptr<StartGate>>* gates,
                                std::stop_token stop);
    static Task<void> open_on_spawn(std::shared_ptr<Channel<Result<void>>> spawned, StartGate* gate,
                                    std::stop_token stop);
    Task<void> stop_one(Service* svc, Result<void>* out, std::stop_token stop);

    SupervisorOptions options_;
    EventBus events_;
    std::map<std::string, std::unique_ptr<Service>> services_;
    std::vector<std::string> order_;
    std::shared_ptr<const std::vector<std::string>> base_env_;  // shared by every service
    TaskScope* actors_ = nullptr;  // while run() is active
    KeeperProcess* keeper_ = nullptr;  // while run() is active, with options_.keeper
    uint64_t orphans_reaped_ = 0;
};

}  // namespace reins::supervisor
