// Reins' side of SupervisorThread: the thread and its loop, the supervisor
// (with or without a state directory), the doorbell that brings the host's
// calls in, and the events and completions handed back to the host. (The
// host's side: supervisor_thread.cpp; the order in which start, stop and
// restart reach the services: supervisor_thread_call_order.cpp.)
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <optional>

#include "reins/async/doorbell.hpp"
#include "reins/async/duration_text.hpp"
#include "reins/async/loop.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/config/config.hpp"
#include "reins/control/supervisor_host.hpp"
#include "reins/control/supervisor_thread_call_order.hpp"
#include "reins/control/supervisor_thread_core.hpp"

#ifndef REINS_VERSION
#define REINS_VERSION "unknown"
#endif

namespace reins::control {

using supervisor::ServiceEvent;

namespace {

using Clock = std::chrono::steady_clock;

// A line about the host's own mistakes (a callback that threw or blocked):
// never handed back to the callback that caused it.
void complain(SupervisorThread::Core& core, const std::string& line) {
    std::fprintf(stderr, "reins: %s\n", line.c_str());
    if (!core.options.queue_events) return;
    HostEvent e;
    e.kind = HostEvent::Kind::note;
    e.text = line;
    core.queue(e);
}

// Times a host callback: one that holds reins' thread for long pauses supervision.
struct CallbackClock {
    SupervisorThread::Core& core;
    const char* what;
    Clock::time_point t0 = Clock::now();
    ~CallbackClock() {
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
        if (took >= std::chrono::seconds(1))
            complain(core, std::string("the host's ") + what + " held reins' thread for " + human_duration(took) +
                               "; supervision (probes, restarts, output) waited meanwhile — return quickly, "
                               "and do slow work on the host's own threads (queue_events + event_fd)");
    }
};

// Every output line to the host as an event, when it asked for them.
class EventSink : public supervisor::OutputSink {
public:
    explicit EventSink(SupervisorThread::Core* core) : core_(core) {}
    using OutputSink::write;
    Task<void> write(supervisor::OutputBatch batch) override {
        if (!core_->options.output_events) co_return;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            HostEvent e;
            e.kind = HostEvent::Kind::output;
            e.service = std::string(batch.service);
            e.text = std::string(batch.text(i));
            e.stream = batch.err ? 2 : 1;
            core_->deliver(e);
        }
    }

private:
    SupervisorThread::Core* core_;
};

class Reins {
public:
    explicit Reins(SupervisorThread::Core* core) : core_(core), sink_(core) {}

    Outcome open();
    Doorbell& bell() noexcept { return bell_; }
    Task<void> serve();

private:
    void note(const std::string& line) {
        HostEvent e;
        e.kind = HostEvent::Kind::note;
        e.text = line;
        core_->deliver(e);
    }
    void on_transition(const ServiceEvent& ev) {
        HostEvent e;
        e.kind = HostEvent::Kind::transition;
        e.service = ev.service;
        e.transition = ev;
        core_->deliver(e);
    }
    void dispatch(HostCall call, TaskScope& ops);
    Outcome add(std::vector<supervisor::ServiceSpec> specs);
    Outcome add_config(const HostCall& call);
    static Task<void> run_host(Reins* self, std::stop_token stop);

    SupervisorThread::Core* core_;
    Doorbell bell_;
    EventSink sink_;
    std::unique_ptr<SupervisorHost> host_;             // with a state directory
    std::unique_ptr<supervisor::Supervisor> own_;      // without one
    supervisor::Supervisor* sup_ = nullptr;
    std::optional<ServiceCallOrder> calls_;  // once open
};

Outcome Reins::open() {
    const auto& o = core_->options;
    if (o.state_dir.empty()) {
        supervisor::SupervisorOptions so;
        so.sink = &sink_;
        so.say = [this](const std::string& line) { note(line); };
        so.base_env = o.base_env;
        so.subreaper = o.subreaper;
        so.keeper = o.keeper;
        own_ = std::make_unique<supervisor::Supervisor>(std::move(so));
        sup_ = own_.get();
        sup_->events().add_listener([this](const ServiceEvent& e) { on_transition(e); });
        calls_.emplace(core_, sup_, false);
        return {};
    }
    HostOptions ho;
    ho.paths = StatePaths{o.state_dir};
    ho.version = REINS_VERSION;
    ho.console = &sink_;
    ho.on_event = [this](const ServiceEvent& e) { on_transition(e); };
    ho.say = [this](const std::string& line) { note(line); };
    ho.subreaper = o.subreaper;
    ho.keeper = o.keeper;
    ho.signals = false;
    ho.control_socket = o.control_socket;
    ho.lock_data = o.lock_data;
    ho.base_env = o.base_env;
    host_ = std::make_unique<SupervisorHost>(std::move(ho));
    LockInfo holder;
    auto opened = host_->open(&holder);
    if (!opened) {
        Outcome out;
        out.code = 3;
        out.kind = opened.error().code == LockErrc::busy ? "busy" : "failed";
        out.message = opened.error().message();
        if (!holder.data.empty()) out.message += " (its data: " + holder.data + ")";
        out.hint = out.kind == "busy" ? "stop that host first, or give this one another state_dir"
                                      : "check that " + o.state_dir + " can be created and written by this user";
        return out;
    }
    sup_ = &host_->supervisor();
    calls_.emplace(core_, sup_, true);
    return {};
}

Outcome Reins::add(std::vector<supervisor::ServiceSpec> specs) {
    Outcome out;
    auto r = sup_->add(std::move(specs));
    if (!r) {
        out.code = 3;
        out.kind = "config";
        out.message = r.error().message();
        out.hint = "nothing was added; fix the service description and add it again";
    }
    return out;
}

Outcome Reins::add_config(const HostCall& call) {
    config::LoadResult loaded;
    if (call.kind == HostCall::Kind::add_file) {
        loaded = config::load_file(call.text);
    } else {
        std::string dir = call.dir;
        if (dir.empty()) {
            char buf[4096];
            dir = ::getcwd(buf, sizeof buf) ? buf : ".";
        }
        loaded = config::load_toml(call.text, dir + "/reins.toml");
    }
    if (!loaded.ok()) {
        Outcome out;
        out.code = 3;
        out.kind = "config";
        out.message = loaded.error().message();
        out.hint = "nothing was added; fix the errors and add the config again";
        return out;
    }
    for (const auto& d : loaded.diagnostics) note(d.message);
    return add(std::move(loaded.config.services));
}

void Reins::dispatch(HostCall call, TaskScope& ops) {
    using K = HostCall::Kind;
    switch (call.kind) {
        case K::status: {
            Outcome out;
            out.services = sup_->status();
            core_->complete(call, std::move(out));
            return;
        }
        case K::add:
            core_->complete(call, add(std::move(call.specs)));
            return;
        case K::add_file:
        case K::add_text:
            core_->complete(call, add_config(call));
            return;
        case K::start:
        case K::stop:
        case K::restart:
            calls_->submit(std::move(call), ops);
            return;
    }
}

Task<void> Reins::run_host(Reins* self, std::stop_token stop) {
    if (self->host_) co_await self->host_->run(stop);
    else co_await self->sup_->run(stop);
    // The supervisor ended by itself (its state directory was taken over,
    // /v1/shutdown on the control socket): no more calls.
    self->core_->begin_shutdown();
}

Task<void> Reins::serve() {
    TaskScope running = TaskScope::shielded();
    std::stop_source stop_all;
    running.spawn(run_host(this, stop_all.get_token()));
    TaskScope ops = TaskScope::shielded();
    for (;;) {
        std::deque<HostCall> calls;
        bool open;
        {
            std::lock_guard lock(core_->mu);
            calls.swap(core_->inbox);
            open = core_->accepting;
        }
        for (auto& c : calls) dispatch(std::move(c), ops);
        if (!open) break;
        auto rang = co_await bell_.wait();
        (void)rang;
    }
    calls_->cancel_all_but_stops();
    co_await ops.join();
    stop_all.request_stop();  // every service through the stop pipeline
    co_await running.join();
}

}  // namespace

void SupervisorThread::Core::deliver(const HostEvent& e) {
    if (options.on_event) {
        CallbackClock clock{*this, "event callback"};
        try {
            options.on_event(e);
        } catch (const std::exception& x) {
            ++callback_failures;
            complain(*this, std::string("the host's event callback threw (") + x.what() + "); supervision goes on");
        } catch (...) {
            ++callback_failures;
            complain(*this, "the host's event callback threw; supervision goes on");
        }
    }
    if (options.queue_events) queue(e);
}

void SupervisorThread::Core::queue(const HostEvent& e) {
    std::lock_guard lock(events_mu);
    if (events.size() >= std::max<std::size_t>(options.queue_capacity, 1)) {
        events.pop_front();
        ++dropped;
    }
    events.push_back(e);
    uint64_t one = 1;
    (void)!::write(event_fd, &one, sizeof one);
}

void SupervisorThread::Core::complete(HostCall& call, Outcome outcome) {
    if (!call.done) return;
    CallbackClock clock{*this, "completion callback"};
    try {
        call.done(std::move(outcome));
    } catch (const std::exception& x) {
        ++callback_failures;
        complain(*this, std::string("the host's completion callback threw (") + x.what() + "); supervision goes on");
    } catch (...) {
        ++callback_failures;
        complain(*this, "the host's completion callback threw; supervision goes on");
    }
}

void SupervisorThread::Core::run(std::promise<Outcome>* opened) {
    thread_id = std::this_thread::get_id();
    // The host's signals are the host's business: keep them off this thread
    // (SIGPIPE too: a write to a closed pipe then fails with EPIPE here).
    // SIGCHLD stays deliverable, even if the host blocked it, for the Subreaper.
    sigset_t block;
    sigemptyset(&block);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2}) sigaddset(&block, s);
    pthread_sigmask(SIG_BLOCK, &block, nullptr);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_UNBLOCK, &chld, nullptr);

    Loop loop;
    std::deque<HostCall> leftovers;
    {
        Reins reins(this);
        Outcome o = reins.open();
        if (!o) {
            opened->set_value(std::move(o));
        } else {
            {
                std::lock_guard lock(mu);
                bell = &reins.bell();
            }
            opened->set_value(Outcome{});
            try {
                loop.run(reins.serve());
            } catch (const std::exception& e) {
                std::fprintf(stderr, "reins: the supervisor thread failed: %s\n", e.what());
            }
            std::lock_guard lock(mu);
            bell = nullptr;
            accepting = false;
            leftovers.swap(inbox);
        }
    }
    for (auto& c : leftovers) complete(c, shut_down_outcome());
    (void)loop.close();
}

}  // namespace reins::control
