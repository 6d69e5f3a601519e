#include "reins/supervisor/service.hpp"

#include <sys/un.h>
#include <unistd.h>

#include <utility>

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

Task<void> Service::run(std::stop_token stop) {
    for (;;) {
        auto msg = co_await mailbox_.recv(stop);
        if (!msg) break;
        auto* cmd = std::get_if<Command>(&*msg);
        if (!cmd) continue;  // an event of a finished run
        if (cmd->kind == Command::Kind::stop) {
            cmd->answer(fail(Errc::not_running, spec_.name + " is not running"));
            continue;
        }
        policy_.reset();  // a manual start closes an open circuit
        status_.restarts = 0;
        restart_attempt_ = 0;
        start_waiters_.push_back(std::move(*cmd));
        co_await active(stop);
    }
    // Nobody will answer what is still queued.
    mailbox_.close();
    while (auto m = mailbox_.try_recv())
        if (auto* c = std::get_if<Command>(&*m)) c->answer(fail(Errc::cancelled, "supervisor stopping"));
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
    auto st = process_start_time(status_.pid);
    status_.pid_start_time = st ? *st : 0;
    status_.port = *port;
    status_.instance = (*inst)->id();
    status_.stop_requested = false;
    status_.last_output.clear();
    return inst;
}

Task<void> Service::active(std::stop_token stop) {
    for (;;) {
        recent_.clear();
        auto launched = launch();
        if (!launched) {
            Error err = std::move(launched).error();
            status_.status_text = err.message();
            // Every start passes through `starting`, even one that could not spawn.
            transition(ServiceState::starting, "start requested",
                       EventDetail::start_of(std::exchange(restart_attempt_, 0)));
            // A busy port or a bad setting does not go away by retrying.
            if (err.code.category() == port_category() || err.is(Errc::config)) {
                transition(ServiceState::failed, err.message(), EventDetail::about(err.message()));
                answer_waiters(fail(err));
                co_return;
            }
            answer_waiters(fail(err));
            end_reason_ = err.message();
            ending_ = Ending{EndKind::start_failed};
            RestartDecision d = policy_.decide(ending_, Clock::now());
            begin_ending(d);
            bool again = co_await after_ending(d, stop);
            if (!again) co_return;
            continue;
        }
        std::unique_ptr<Instance> inst = std::move(*launched);
        transition(ServiceState::starting, "spawned pid " + std::to_string(inst->pid()),
                   EventDetail::start_of(std::exchange(restart_attempt_, 0)));
        answer_waiters({}, /*spawned_only=*/true);
        if (spec_.ready.kind == ProbeKind::none && spec_.ready.after.count() == 0) {
            // Ready at spawn, decided here rather than by a message: an exit
            // already queued in the mailbox must not count as a failed startup.
            transition(ServiceState::running, "ready: spawned");
            inst->start_liveness();
            answer_waiters({});
        }

        Outcome outcome = co_await watch(*inst, stop);
        const bool was_starting = status_.state == ServiceState::starting;
        RestartDecision decision;
        if (outcome == Outcome::ended) {
            decision = policy_.decide(ending_, Clock::now());
            begin_ending(decision);
        } else {
            status_.stop_requested = true;
            // (Already `stopping` when the service announced STOPPING=1 first.)
            if (status_.state != ServiceState::stopping) transition(ServiceState::stopping, stop_reason(outcome));
        }
        co_await stop_run(*inst, outcome == Outcome::ended && ending_.kind == EndKind::unhealthy);
        if (ctx_.track_group) ctx_.track_group(inst->pid(), false);
        co_await inst->shutdown(Millis(200));

        switch (outcome) {
        case Outcome::user_stop:
            sticky_port_ = 0;  // a start after a stop chooses its port afresh
            transition(ServiceState::stopped, "stopped (" + std::string(to_string(status_.stopped_by)) + ")");
            for (auto& w : stop_waiters_) w.answer({});
            stop_waiters_.clear();
            answer_waiters(fail(Errc::cancelled, spec_.name + " was stopped before it was ready"));
            co_return;
        case Outcome::supervisor_stop:
            sticky_port_ = 0;
            transition(ServiceState::stopped, "supervisor stopping");
            answer_waiters(fail(Errc::cancelled, "supervisor stopping"));
            co_return;
        case Outcome::user_restart:
            // Through `stopped`, as the state diagram has it; the port stays.
            transition(ServiceState::stopped, "restart requested");
            policy_.reset();
            status_.restarts = 0;
            restart_attempt_ = 0;
            continue;
        case Outcome::ended: {
            // After shutdown(): the output still in the pipes is drained by now.
            status_.last_output.assign(recent_.begin(), recent_.end());
            if (ending_.kind == EndKind::start_failed || was_starting)
                answer_waiters(fail(Errc::spawn_failed, spec_.name + " failed to start: " + end_reason_));
            bool again = co_await after_ending(decision, stop);
            if (!again) co_return;
            continue;
        }
        }
    }
}

}  // namespace reins::supervisor
