#include "reins/supervisor/supervisor.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <unistd.h>

#include "reins/async/timer.hpp"
#include "reins/supervisor/dependency_graph.hpp"
#include "reins/supervisor/stop_escalation.hpp"
#include "reins/supervisor/instance_id.hpp"
#include "reins/supervisor/subreaper.hpp"

extern char** environ;

namespace reins::supervisor {
namespace {

std::vector<std::string> own_environment() {
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
    return env;
}

bool command_empty(const CommandSpec& c) {
    if (c.is_shell()) return std::get<0>(c.value).empty();
    const auto& argv = std::get<1>(c.value);
    return argv.empty() || argv[0].empty();
}

// The graph over `names` (by index) that `deps_of` describes; names not
// among them are left out.
template <class DepsOf>
DependencyLists dependency_lists(const std::vector<std::string>& names, DepsOf deps_of) {
    std::map<std::string, int> index;
    for (std::size_t i = 0; i < names.size(); ++i) index.emplace(names[i], static_cast<int>(i));
    DependencyLists lists(names.size());
    for (std::size_t i = 0; i < names.size(); ++i)
        for (const auto& d : deps_of(names[i]))
            if (auto it = index.find(d.name); it != index.end()) lists[i].push_back(it->second);
    return lists;
}

}  // namespace

Supervisor::Supervisor(SupervisorOptions options) : options_(std::move(options)) {
    if (options_.base_env.empty()) options_.base_env = own_environment();
    base_env_ = std::make_shared<const std::vector<std::string>>(options_.base_env);
}

Result<void> Supervisor::add(ServiceSpec spec) {
    std::vector<ServiceSpec> one;
    one.push_back(std::move(spec));
    return add(std::move(one));
}

Result<void> Supervisor::add(std::vector<ServiceSpec> specs) {
    // Checked as a whole against what is already here: nothing is added
    // unless all of it can be (a dependency may come later in `specs`).
    std::map<std::string, const ServiceSpec*> batch;
    for (const auto& spec : specs) {
        if (spec.name.empty()) return fail(Errc::config, "a service needs a name");
        if (services_.count(spec.name) || batch.count(spec.name))
            return fail(Errc::config, "service " + spec.name + " is defined twice");
        if (command_empty(spec.command)) return fail(Errc::config, "service " + spec.name + " has an empty command");
        batch.emplace(spec.name, &spec);
    }
    for (const auto& spec : specs)
        for (const auto& d : spec.depends_on) {
            if (d.name == spec.name) return fail(Errc::config, "service " + spec.name + " depends on itself");
            if (!services_.count(d.name) && !batch.count(d.name))
                return fail(Errc::config, "service " + spec.name + " depends on unknown service " + d.name);
        }
    // The services here, then the new ones: a cycle, if any, runs through
    // the new ones (existing services cannot depend on them).
    std::vector<std::string> names = order_;
    for (const auto& spec : specs) names.push_back(spec.name);
    auto cycle = first_cycle(dependency_lists(names, [&](const std::string& n) -> const std::vector<Dependency>& {
        if (auto it = batch.find(n); it != batch.end()) return it->second->depends_on;
        return services_.at(n)->spec().depends_on;
    }));
    if (!cycle.empty()) {
        std::string text;
        for (int v : cycle) text += names[static_cast<std::size_t>(v)] + " → ";
        return fail(Errc::config, "dependency cycle: " + text + names[static_cast<std::size_t>(cycle.front())]);
    }
    for (auto& spec : specs) {
        std::string name = spec.name;
        ServiceContext ctx{&events_, options_.sink, options_.notify_dir, base_env_, options_.say, {}};
        ctx.track_group = [this](pid_t pgid, bool alive) {
            if (!keeper_) return;
            if (alive) keeper_->guard_group(pgid);
            else keeper_->release_group(pgid);
        };
        auto svc = std::make_unique<Service>(std::move(spec), std::move(ctx));
        Service* raw = svc.get();
        services_.emplace(name, std::move(svc));
        order_.push_back(name);
        if (actors_) actors_->spawn(raw->run(actors_->token()));
    }
    return {};
}

Service* Supervisor::find(const std::string& name) const {
    auto it = services_.find(name);
    return it == services_.end() ? nullptr : it->second.get();
}

std::vector<ServiceStatus> Supervisor::status() const {
    std::vector<ServiceStatus> out;
    for (const auto& n : order_) out.push_back(services_.at(n)->status());
    return out;
}

std::map<std::string, int> Supervisor::levels() const {
    auto depth = dependency_depths(
        dependency_lists(order_, [&](const std::string& n) -> const std::vector<Dependency>& {
            return services_.at(n)->spec().depends_on;
        }));
    std::map<std::string, int> level;
    for (std::size_t i = 0; i < order_.size(); ++i) level[order_[i]] = depth[i];
    return level;
}

Result<std::vector<std::string>> Supervisor::resolve(const std::vector<std::string>& names) const {
    if (names.empty()) return order_;
    for (const auto& n : names)
        if (!services_.count(n)) return fail(Errc::not_found, "no service named " + n);
    return names;
}

Task<void> Supervisor::run(std::stop_token stop) {
    std::optional<Subreaper> reaper;
    if (options_.subreaper) {
        auto r = Subreaper::enable();
        if (r) {
            reaper.emplace(std::move(*r));
            reaper->on_reaped([this](pid_t, const ExitStatus&) { ++orphans_reaped_; });
        } else if (options_.say) {
            options_.say("cannot become a child subreaper (" + r.error().message() +
                         "): double-forked descendants will be re-parented to init instead");
        }
    }
    // Forked before the first service, so that none can outlive this
    // process; finished after the last one stopped.
    KeeperProcess keeper;
    if (options_.keeper) {
        auto k = KeeperProcess::start(own_supervisor_tag(), options_.say);
        if (k) {
            keeper = std::move(*k);
            keeper_ = &keeper;
        } else if (options_.say) {
            options_.say("cannot start the keeper process (" + k.error().message() +
                         "): if this process dies, its services outlive it until the next reins command stops them");
        }
    }
    TaskScope actors = TaskScope::shielded();  // stopped in dependency order below
    actors_ = &actors;
    for (const auto& n : order_) actors.spawn(services_.at(n)->run(actors.token()));
    co_await sleep_until_stopped(stop);
    auto stopped = co_await this->stop({}, {});
    (void)stopped;
    actors_ = nullptr;
    actors.request_stop();
    co_await actors.join();
    keeper_ = nullptr;
    keeper.finish();
    if (reaper) {
        // Orphans no service could claim (docs/engine.md, "Stopping") go
        // with the supervisor rather than outlive it.
        auto orphans = co_await stop_adopted_orphans(Millis(1000));
        (void)orphans;
        reaper->reap_now();
    }
}

Task<Result<void>> Supervisor::start(std::vector<std::string> names, std::stop_token stop) {
    auto wanted = resolve(names);
    if (!wanted) co_return fail(std::move(wanted).error());
    // The closure: what was asked for and everything it depends on.
    std::set<std::string> all;
    std::vector<std::string> todo = *wanted;
    while (!todo.empty()) {
        std::string n = std::move(todo.back());
        todo.pop_back();
        if (!all.insert(n).second) continue;
        for (const auto& d : services_.at(n)->spec().depends_on)
            if (services_.count(d.name)) todo.push_back(d.name);
    }
    // Every service starts as soon as each of its dependencies reached what
    // it asks for: spawned ("started") or running ("ready").
    std::map<std::string, std::unique_ptr<StartGate>> gates;
    for (const auto& n : all) gates.emplace(n, std::make_unique<StartGate>());
    for (const auto& n : all) {
        bool named = std::find(wanted->begin(), wanted->end(), n) != wanted->end();
        gates.at(n)->needs_ready = named;
        for (const auto& m : all)
            for (const auto& d : services_.at(m)->spec().depends_on)
                if (d.name == n && d.condition == Dependency::Condition::ready) gates.at(n)->needs_ready = true;
    }
    TaskScope scope(stop);
    for (const auto& n : order_)
        if (all.count(n)) scope.spawn(start_when_ready(services_.at(n).get(), &gates, scope.token()));
    co_await scope.join();
    for (const auto& n : order_)
        if (all.count(n) && gates.at(n)->failed) co_return fail(std::move(*gates.at(n)->failed));
    co_return Result<void>{};
}

Task<void> Supervisor::start_when_ready(Service* svc, std::map<std::string, std::unique_ptr<StartGate>>* gates,
                                        std::stop_token stop) {
    StartGate& gate = *gates->at(svc->name());
    for (const auto& d : svc->spec().depends_on) {
        auto it = gates->find(d.name);
        if (it == gates->end()) continue;
        StartGate& dep = *it->second;
        Channel<int>& reached = d.condition == Dependency::Condition::started ? dep.spawned : dep.ready;
        auto opened = co_await reached.recv(stop);  // opened: the channel is closed
        if (opened || !opened.error().is(Errc::channel_closed)) {
            gate.failed = Error{make_error_code(Errc::cancelled), svc->name() + ": start cancelled"};
            gate.open();
            co_return;
        }
        if (dep.failed) {
            // The dependency's own failure is the one reported; this one only names it.
            gate.failed = Error{make_error_code(Errc::spawn_failed),
                                svc->name() + " was not started: its dependency " + d.name + " failed"};
            gate.open();
            co_return;
        }
    }
    if (!gate.needs_ready) {
        auto spawned = co_await svc->start(false, stop);
        if (!spawned) gate.failed = std::move(spawned).error();
        gate.open();
        co_return;
    }
    // One start command that also reports the spawn, for "started" dependents.
    auto spawned = std::make_shared<Channel<Result<void>>>(1);
    TaskScope watcher(stop);
    watcher.spawn(open_on_spawn(spawned, &gate, watcher.token()));
    auto running = co_await svc->start_reporting_spawn(spawned, stop);
    if (!running) gate.failed = std::move(running).error();
    gate.open();
    watcher.request_stop();
    co_await watcher.join();
}

Task<void> Supervisor::open_on_spawn(std::shared_ptr<Channel<Result<void>>> spawned, StartGate* gate,
                                     std::stop_token stop) {
    auto r = co_await spawned->recv(stop);
    if (r && *r) gate->spawned.close();
}

Task<Result<void>> Supervisor::stop(std::vector<std::string> names, std::stop_token stop) {
    auto wanted = resolve(names);
    if (!wanted) co_return fail(std::move(wanted).error());
    // The closure the other way: what depends on a stopped service stops first.
    std::set<std::string> all(wanted->begin(), wanted->end());
    for (bool grew = true; grew;) {
        grew = false;
        for (const auto& n : order_)
            for (const auto& d : services_.at(n)->spec().depends_on)
                if (all.count(d.name) && all.insert(n).second) grew = true;
    }
    auto level = levels();
    int top = 0;
    for (const auto& n : all) top = std::max(top, level[n]);
    Result<void> first;
    for (int l = top; l >= 0; --l) {
        std::vector<std::string> batch;
        for (const auto& n : order_)
            if (all.count(n) && level[n] == l) batch.push_back(n);
        std::vector<Result<void>> results(batch.size());
        TaskScope scope(stop);
        for (std::size_t i = 0; i < batch.size(); ++i) {
            Service* s = services_.at(batch[i]).get();
            bool idle = s->status().state == ServiceState::stopped || s->status().state == ServiceState::failed;
            bool named = std::find(wanted->begin(), wanted->end(), batch[i]) != wanted->end();
            if (idle && !(named && !names.empty())) continue;  // nothing to do, nothing to report
            scope.spawn(stop_one(s, &results[i], scope.token()));
        }
        co_await scope.join();
        for (auto& r : results)
            if (!r && first) first = std::move(r);
    }
    co_return first;
}

Task<void> Supervisor::stop_one(Service* svc, Result<void>* out, std::stop_token stop) {
    auto r = co_await svc->stop(std::move(stop));
    *out = std::move(r);
}

Task<Result<void>> Supervisor::restart(std::string name, std::stop_token stop) {
    Service* svc = find(name);
    if (!svc) co_return fail(Errc::not_found, "no service named " + name);
    auto r = co_await svc->restart(std::move(stop));
    co_return r;
}

}  // namespace reins::supervisor
