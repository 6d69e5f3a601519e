#include "reins/supervisor/supervisor.hpp"

#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <unistd.h>

#include "reins/async/timer.hpp"
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

Task<void> wait_until_stopped(std::stop_token stop) {
    // One long timer, not a poll: it only ends when `stop` is requested.
    auto r = co_await sleep(std::chrono::hours(24 * 365 * 10), std::move(stop));
    (void)r;
}

}  // namespace

Supervisor::Supervisor(SupervisorOptions options) : options_(std::move(options)) {
    if (options_.base_env.empty()) options_.base_env = own_environment();
    base_env_ = std::make_shared<const std::vector<std::string>>(options_.base_env);
}

Result<void> Supervisor::add(ServiceSpec spec) {
    if (spec.name.empty()) return fail(Errc::config, "a service needs a name");
    if (services_.count(spec.name)) return fail(Errc::config, "service " + spec.name + " is defined twice");
    if (command_empty(spec.command)) return fail(Errc::config, "service " + spec.name + " has an empty command");
    for (const auto& d : spec.depends_on)
        if (d.name == spec.name) return fail(Errc::config, "service " + spec.name + " depends on itself");
    std::string name = spec.name;
    ServiceContext ctx{&events_, options_.sink, options_.notify_dir, base_env_, options_.say};
    auto svc = std::make_unique<Service>(std::move(spec), std::move(ctx));
    Service* raw = svc.get();
    services_.emplace(name, std::move(svc));
    order_.push_back(name);
    if (actors_) actors_->spawn(raw->run(actors_->token()));
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

Result<void> Supervisor::validate() const {
    for (const auto& [name, svc] : services_)
        for (const auto& d : svc->spec().depends_on)
            if (!services_.count(d.name))
                return fail(Errc::config, "service " + name + " depends on unknown service " + d.name);
    // Depth-first search for a cycle, naming it: web → api → web.
    std::map<std::string, int> mark;  // 1: on the path, 2: done
    std::vector<std::string> path;
    std::function<Result<void>(const std::string&)> visit = [&](const std::string& n) -> Result<void> {
        mark[n] = 1;
        path.push_back(n);
        for (const auto& d : services_.at(n)->spec().depends_on) {
            if (mark[d.name] == 1) {
                std::string cycle;
                auto from = std::find(path.begin(), path.end(), d.name);
                for (auto it = from; it != path.end(); ++it) cycle += *it + " → ";
                return fail(Errc::config, "dependency cycle: " + cycle + d.name);
            }
            if (mark[d.name] == 0) {
                auto r = visit(d.name);
                if (!r) return r;
            }
        }
        path.pop_back();
        mark[n] = 2;
        return {};
    };
    for (const auto& n : order_)
        if (mark[n] == 0) {
            auto r = visit(n);
            if (!r) return r;
        }
    return {};
}

std::map<std::string, int> Supervisor::levels() const {
    std::map<std::string, int> level;
    std::function<int(const std::string&)> depth = [&](const std::string& n) -> int {
        if (auto it = level.find(n); it != level.end()) return it->second;
        level[n] = 0;  // guards against a cycle validate() would have refused
        int l = 0;
        for (const auto& d : services_.at(n)->spec().depends_on)
            if (services_.count(d.name)) l = std::max(l, depth(d.name) + 1);
        return level[n] = l;
    };
    for (const auto& n : order_) depth(n);
    return level;
}

Result<std::vector<std::string>> Supervisor::resolve(const std::vector<std::string>& names) const {
    if (names.empty()) return order_;
    for (const auto& n : names)
        if (!services_.count(n)) return fail(Errc::exited, "no service named " + n);
    return names;
}

Task<void> Supervisor::run(std::stop_token stop) {
    auto valid = validate();
    if (!valid) throw std::logic_error(valid.error().message());  // add() callers must validate first
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
    TaskScope actors;  // shielded: stopped in dependency order below
    actors_ = &actors;
    for (const auto& n : order_) actors.spawn(services_.at(n)->run(actors.token()));
    co_await wait_until_stopped(stop);
    auto stopped = co_await this->stop({}, {});
    (void)stopped;
    actors_ = nullptr;
    actors.request_stop();
    co_await actors.join();
    if (reaper) reaper->reap_now();
}

Task<Result<void>> Supervisor::start(std::vector<std::string> names, std::stop_token stop) {
    auto wanted = resolve(names);
    if (!wanted) co_return fail(std::move(wanted).error());
    // The closure: what was asked for and everything it depends on.
    std::set<std::string> all;
    std::function<void(const std::string&)> close_over = [&](const std::string& n) {
        if (!all.insert(n).second) return;
        for (const auto& d : services_.at(n)->spec().depends_on)
            if (services_.count(d.name)) close_over(d.name);
    };
    for (const auto& n : *wanted) close_over(n);
    auto level = levels();
    int top = 0;
    for (const auto& n : all) top = std::max(top, level[n]);
    // A service only needs to be ready if something asks for that, or it was named.
    auto needs_ready = [&](const std::string& n) {
        if (std::find(wanted->begin(), wanted->end(), n) != wanted->end()) return true;
        for (const auto& m : all)
            for (const auto& d : services_.at(m)->spec().depends_on)
                if (d.name == n && d.condition == Dependency::Condition::ready) return true;
        return false;
    };
    for (int l = 0; l <= top; ++l) {
        std::vector<Service*> batch;
        for (const auto& n : order_)
            if (all.count(n) && level[n] == l) batch.push_back(services_.at(n).get());
        std::vector<Result<void>> results(batch.size());
        TaskScope scope(stop);
        for (std::size_t i = 0; i < batch.size(); ++i) {
            auto one = [](Service* s, bool ready, Result<void>* out, std::stop_token st) -> Task<void> {
                *out = co_await s->start(ready, std::move(st));
            };
            scope.spawn(one(batch[i], needs_ready(batch[i]->name()), &results[i], scope.token()));
        }
        co_await scope.join();
        for (std::size_t i = 0; i < batch.size(); ++i)
            if (!results[i]) co_return fail(std::move(results[i]).error());
    }
    co_return Result<void>{};
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
    if (!svc) co_return fail(Errc::exited, "no service named " + name);
    auto r = co_await svc->restart(std::move(stop));
    co_return r;
}

}  // namespace reins::supervisor
