#include "reins/supervisor/service.hpp"

#include <sys/un.h>
#include <unistd.h>

#include <optional>
#include <utility>

#include "reins/async/task_scope.hpp"
#include "reins/async/timer.hpp"
#include "reins/supervisor/instance_id.hpp"
#include "reins/supervisor/process_tree.hpp"
#include "reins/supervisor/stop_escalation.hpp"

namespace reins::supervisor {
namespace {

using Clock = std::chrono::steady_clock;


// notify/NAME.sock in the notify folder, or an abstract name where that path
// would not fit in sun_path (sd_notify clients accept both).
std::string notify_path(const ServiceContext& ctx, const std::string& name, const std::string& instance) {
    if (!ctx.notify_dir.empty()) {
        std::string p = ctx.notify_dir + "/" + name + ".sock";
        if (p.size() < sizeof(sockaddr_un::sun_path)) return p;
        return "@reins-" + std::to_string(std::hash<std::string>{}(ctx.notify_dir) & 0xffffffffu) + "-" + name;
    }
    return "@reins-" + instance;
}

bool wants_notify(const ServiceSpec& s) {
    return s.ready.kind == ProbeKind::notify || s.health.kind == ProbeKind::watchdog;
}

}  // namespace

Service::Service(ServiceSpec spec, ServiceContext ctx)
    : spec_(std::move(spec)), ctx_(std::move(ctx)), policy_(spec_.restart) {
    status_.name = spec_.name;
    status_.ready_checked = spec_.ready.kind != ProbeKind::none || spec_.ready.after.count() > 0;
}

// ---- asking the actor -------------------------------------------------------

Task<Result<void>> Service::ask(Command::Kind kind, bool wait_ready, std::stop_token stop,
                                std::shared_ptr<Channel<Result<void>>> spawned) {
    auto answer = std::make_shared<Channel<Result<void>>>(1);
    Command cmd{kind, wait_ready, answer, std::move(spawned)};
    auto sent = co_await mailbox_.send(ServiceMessage(std::move(cmd)), stop);
    if (!sent) co_return fail(std::move(sent).error());
    auto r = co_await answer->recv(stop);
    if (!r) co_return fail(std::move(r).error());
    co_return std::move(*r);
}

Task<Result<void>> Service::start(bool wait_ready, std::stop_token stop) {
    auto r = co_await ask(Command::Kind::start, wait_ready, std::move(stop));
    co_return r;
}

Task<Result<void>> Service::start_reporting_spawn(std::shared_ptr<Channel<Result<void>>> spawned,
                                                  std::stop_token stop) {
    auto r = co_await ask(Command::Kind::start, true, std::move(stop), std::move(spawned));
    co_return r;
}

Task<Result<void>> Service::stop(std::stop_token stop) {
    auto r = co_await ask(Command::Kind::stop, true, std::move(stop));
    co_return r;
}

Task<Result<void>> Service::restart(std::stop_token stop) {
    auto r = co_await ask(Command::Kind::restart, true, std::move(stop));
    co_return r;
}

// ---- state ------------------------------------------------------------------

void Service::transition(ServiceState to, std::string reason, EventDetail detail) {
    ServiceEvent e;
    e.service = spec_.name;
    e.from = status_.state;
    e.to = to;
    e.reason = std::move(reason);
    e.time = Clock::now();
    status_.state = to;
    // Health news and a new main pid are transitions to the same state: a
    // running service has been running since it first became ready.
    if (to == ServiceState::running && e.from != ServiceState::running) status_.since = e.time;
    else if (to != ServiceState::running && to != ServiceState::stopping) status_.since.reset();
    if (to == ServiceState::stopped || to == ServiceState::failed || to == ServiceState::restarting) {
        status_.pid = 0;
        status_.pid_start_time = 0;
        status_.health = Health::unknown;
    }
    // A restarting service keeps its (sticky) port; one that is not running shows none.
    if (to == ServiceState::stopped || to == ServiceState::failed) status_.port = 0;
    e.health = status_.health;
    e.pid = status_.pid;
    e.port = status_.port;
    e.attempt = detail.attempt;
    e.delay = detail.delay;
    e.failures = detail.failures ? *detail.failures : policy_.restarts_in_window(e.time);
    e.status_text = std::move(detail.status_text);
    if (ctx_.events) ctx_.events->publish(e);
}

void Service::answer_waiters(const Result<void>& r, bool spawned_only) {
    std::vector<Command> keep;
    for (auto& w : start_waiters_) {
        if (spawned_only && w.wait_ready) {
            w.answer_spawned(r);
            keep.push_back(std::move(w));
        } else {
            w.answer(r);
        }
    }
    start_waiters_ = std::move(keep);
}

// ---- the actor ----------------------------------------------------------------

namespace {

// Sends a Wakeup into the mailbox after `delay`: the actor waits on its one
// mailbox only, never on a race of two sources that could lose a message.
Task<void> wake_after(Channel<ServiceMessage>* mailbox, Millis delay, uint64_t generation, std::stop_token stop) {
    auto slept = co_await sleep(delay, stop);
    if (!slept) co_return;
    auto sent = co_await mailbox->send(ServiceMessage(Wakeup{generation}), stop);
    (void)sent;
}

}  // namespace

MachineInput Service::input_of(const ServiceMessage& msg) const {
    using In = MachineInput;
    if (const auto* cmd = std::get_if<Command>(&msg)) {
        switch (cmd->kind) {
        case Command::Kind::start: return cmd->wait_ready ? In::start : In::start_spawn_only;
        case Command::Kind::stop: return In::stop;
        case Command::Kind::restart: return In::restart;
        }
    }
    if (const auto* w = std::get_if<Wakeup>(&msg))
        return w->generation == wake_generation_ ? In::backoff_elapsed : In::old_backoff_elapsed;
    const auto& e = std::get<InstanceEvent>(msg);
    if (e.generation != generation_) return In::old_report;
    const bool announced = inst_ && inst_->stop_announced();  // STOPPING=1 came first: it meant to stop
    using K = InstanceEvent::Kind;
    switch (e.kind) {
    case K::ready: return In::ready;
    case K::start_timeout: return In::start_timeout;
    case K::exited: return announced ? In::exited_announced : In::exited;
    case K::healthy: return In::healthy;
    case K::unhealthy: return announced ? In::unhealthy_announced : In::unhealthy;
    case K::probe_failed: return In::probe_failed;
    case K::status_text: return In::notify_status;
    case K::stopping: return In::notify_stopping;
    case K::main_pid: return In::notify_main_pid;
    }
    return In::old_report;
}

Task<void> Service::run(std::stop_token stop) {
    std::optional<TaskScope> backoff;  // the backoff timer while restarting
    bool leaving = false;
    while (!leaving) {
        auto msg = co_await mailbox_.recv(stop);
        ServiceMessage* m = msg ? &*msg : nullptr;
        std::optional<MachineInput> input = m ? input_of(*m) : MachineInput::shutdown;
        while (input) {
            const Cell cell = service_cell(status_.state, *input);
            input.reset();
            // The steps that are I/O are done here; apply() does the rest.
            for (const Step& step : cell.steps) {
                if (step.act == Act::clear_away_run || step.act == Act::clear_away_ended_run) {
                    co_await clear_away(step.act == Act::clear_away_ended_run);
                } else if (step.act == Act::arm_backoff) {
                    ++status_.restarts;
                    const uint64_t gen = ++wake_generation_;
                    backoff.emplace(stop);
                    backoff->spawn(wake_after(&mailbox_, decision_.delay, gen, backoff->token()));
                } else if (step.act == Act::disarm_backoff) {
                    if (!backoff) continue;
                    backoff->request_stop();
                    co_await backoff->join();
                    backoff.reset();
                } else if (step.act == Act::leave) {
                    leaving = true;
                } else {
                    input = apply(step, m);
                }
            }
        }
    }
    // Nobody will answer what is still queued.
    mailbox_.close();
    while (auto q = mailbox_.try_recv())
        if (auto* c = std::get_if<Command>(&*q)) c->answer(fail(Errc::cancelled, "supervisor stopping"));
    answer_waiters(fail(Errc::cancelled, "supervisor stopping"));
}

Result<int> Service::choose_port() const {
    // Sticky: a restart keeps the port clients learned while it is free.
    if (sticky_port_ != 0 && port_is_free(spec_.port.host, sticky_port_)) return sticky_port_;
    return allocate_port(spec_.port);
}

Result<std::unique_ptr<Instance>> Service::launch() {
    auto port = choose_port();
    if (!port) return fail(std::move(port).error());
    sticky_port_ = *port;
    InstanceContext ic;
    ic.mailbox = &mailbox_;
    ic.generation = ++generation_;
    ic.instance_id = new_instance_id(spec_.name);
    ic.port = *port;
    ic.sink = ctx_.sink;
    ic.recent = &recent_;
    if (wants_notify(spec_)) ic.notify_path = notify_path(ctx_, spec_.name, ic.instance_id);
    ic.base_env = ctx_.base_env;
    ic.say = ctx_.say;
    auto inst = Instance::launch(spec_, std::move(ic));
    if (!inst) return inst;
    if (ctx_.track_group) ctx_.track_group((*inst)->pid(), true);
    status_.pid = (*inst)->pid();
    status_.pid_start_time = (*inst)->start_time();
    status_.port = *port;
    status_.instance = (*inst)->id();
    status_.stop_requested = false;
    status_.last_output.clear();
    return inst;
}

}  // namespace reins::supervisor
