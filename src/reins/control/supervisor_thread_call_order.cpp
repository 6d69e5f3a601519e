#include "reins/control/supervisor_thread_call_order.hpp"

#include <map>
#include <stop_token>

#include "reins/async/channel.hpp"

namespace reins::control {

// A start, stop or restart under way, and the services it is about.
struct ServiceCallOrder::Op {
    HostCall::Kind kind = HostCall::Kind::start;
    bool all = false;               // about every service
    std::set<std::string> services;  // else: these (with their dependency component)
    std::stop_source cancel;
    std::string cancelled_by;  // why cancel fired
    bool applied = false;      // the earlier calls are done: this one reached the services
    Channel<int> done{1};      // closed when it completed

    bool overlaps(const Op& o) const {
        if (all || o.all) return true;
        for (const auto& s : services)
            if (o.services.count(s)) return true;
        return false;
    }
};

std::set<std::string> ServiceCallOrder::component(const std::vector<std::string>& names) const {
    // Services connected through depends_on, either way round: commands on
    // them must keep their order.
    std::map<std::string, std::vector<std::string>> edges;
    for (const auto& n : sup_->names())
        for (const auto& d : sup_->find(n)->spec().depends_on) {
            edges[n].push_back(d.name);
            edges[d.name].push_back(n);
        }
    std::set<std::string> seen;
    std::vector<std::string> todo = names;
    while (!todo.empty()) {
        std::string n = std::move(todo.back());
        todo.pop_back();
        if (!seen.insert(n).second) continue;
        for (const auto& m : edges[n]) todo.push_back(m);
    }
    return seen;
}

Outcome ServiceCallOrder::outcome_of(const CommandReport& rep, const Op& op) const {
    Outcome out;
    out.code = rep.exit_code();
    out.kind = rep.kind;
    out.service = rep.service;
    out.message = rep.message;
    out.hint = rep.hint;
    out.last_output = rep.last_output;
    if (!rep.ok && !op.cancelled_by.empty() && op.cancel.stop_requested()) {
        out.kind = "cancelled";
        out.message = "cancelled by " + op.cancelled_by;
        out.hint = {};
    }
    // Without a state directory there is no `reins logs`: the lines are here.
    if (!has_state_dir_ && out.hint.find("reins logs") != std::string::npos)
        out.hint = out.last_output.empty() ? "see the service's output events (Options::output_events)"
                                           : "its last output lines are in last_output";
    for (const auto& n : rep.asked)
        if (auto* s = sup_->find(n)) out.services.push_back(s->status());
    return out;
}

void ServiceCallOrder::submit(HostCall call, TaskScope& ops) {
    using K = HostCall::Kind;
    auto op = std::make_shared<Op>();
    op->kind = call.kind;
    op->all = call.names.empty();
    if (!op->all) op->services = component(call.names);
    std::vector<std::shared_ptr<Op>> earlier;
    for (auto& e : inflight_) {
        if (!op->overlaps(*e)) continue;
        earlier.push_back(e);
        // A stop wins over a start or restart already applied and still
        // waiting for readiness; queued ones stay queued, in order.
        if (call.kind == K::stop && e->kind != K::stop && e->applied && !e->cancel.stop_requested()) {
            e->cancelled_by = "a later stop";
            e->cancel.request_stop();
        }
    }
    inflight_.push_back(op);
    ops.spawn(run_op(this, op, std::move(call), std::move(earlier)));
}

void ServiceCallOrder::cancel_all_but_stops() {
    for (auto& op : inflight_)
        if (op->kind != HostCall::Kind::stop && !op->cancel.stop_requested()) {
            op->cancelled_by = "the shutdown";
            op->cancel.request_stop();
        }
}

Task<void> ServiceCallOrder::run_op(ServiceCallOrder* self, std::shared_ptr<Op> op, HostCall call,
                                    std::vector<std::shared_ptr<Op>> earlier) {
    for (auto& e : earlier) {
        auto r = co_await e->done.recv(op->cancel.get_token());
        if (!r && r.error().is(Errc::cancelled)) break;
    }
    op->applied = true;
    CommandReport rep;
    if (op->cancel.stop_requested()) {
        rep.ok = false;
        rep.kind = "cancelled";
        rep.asked = call.names;
    } else {
        auto action = call.kind == HostCall::Kind::start  ? CommandAction::start
                      : call.kind == HostCall::Kind::stop ? CommandAction::stop
                                                          : CommandAction::restart;
        rep = co_await run_service_command(*self->sup_, action, call.names, op->cancel.get_token());
    }
    Outcome out = self->outcome_of(rep, *op);
    op->done.close();
    self->inflight_.remove(op);
    self->core_->complete(call, std::move(out));
}

}  // namespace reins::control
