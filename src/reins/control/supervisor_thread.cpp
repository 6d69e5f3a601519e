// The host's side of SupervisorThread: calls posted to reins' thread,
// blocking forms that wait with a deadline, and the event queue behind an
// eventfd. (Reins' side: supervisor_thread_loop.cpp.)
#include "reins/control/supervisor_thread.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>

#include "reins/async/doorbell.hpp"
#include "reins/async/duration_text.hpp"
#include "reins/control/supervisor_thread_core.hpp"

namespace reins::control {

Outcome shut_down_outcome() {
    Outcome o;
    o.code = 3;
    o.kind = "shut_down";
    o.message = "the supervisor thread has shut down";
    o.hint = "open a new SupervisorThread to supervise services again";
    return o;
}

namespace {

Outcome refused(std::string kind, std::string message, std::string hint) {
    Outcome o;
    o.code = 3;
    o.kind = std::move(kind);
    o.message = std::move(message);
    o.hint = std::move(hint);
    return o;
}

std::string describe(const HostCall& c) {
    static const char* const verbs[] = {"add", "add config file", "add config text", "start", "stop", "restart", "status"};
    std::string s = verbs[static_cast<int>(c.kind)];
    if (c.kind == HostCall::Kind::add_file) s += " " + c.text;
    for (const auto& n : c.names) s += " " + n;
    if ((c.kind == HostCall::Kind::start || c.kind == HostCall::Kind::stop) && c.names.empty()) s += " (all)";
    return s;
}

// Where a blocking call's outcome arrives from reins' thread.
struct Mailbox {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Outcome> outcome;
};

}  // namespace

// ---- Core (shared) ------------------------------------------------------------

SupervisorThread::Core::~Core() {
    if (event_fd >= 0) ::close(event_fd);
}

bool SupervisorThread::Core::post(HostCall call) {
    std::lock_guard lock(mu);
    if (!accepting || !bell) return false;
    inbox.push_back(std::move(call));
    bell->ring();
    return true;
}

void SupervisorThread::Core::begin_shutdown() {
    std::lock_guard lock(mu);
    accepting = false;
    if (bell) bell->ring();
}

// ---- SupervisorThread -----------------------------------------------------------

SupervisorThread::SupervisorThread(std::shared_ptr<Core> core) : core_(std::move(core)) {}

std::unique_ptr<SupervisorThread> SupervisorThread::open(Options options, Outcome* failed) {
    auto core = std::make_shared<Core>(std::move(options));
    if (core->options.queue_events) {
        core->event_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (core->event_fd < 0) {
            if (failed)
                *failed = refused("failed", std::string("cannot create the event fd: ") + std::strerror(errno),
                                  "raise the open-file limit (ulimit -n)");
            return nullptr;
        }
    }
    std::promise<Outcome> opened;
    auto answer = opened.get_future();
    try {
        // The thread shares the core: a handle destroyed from inside a
        // callback leaves the thread to finish (and free) on its own.
        core->thread = std::thread([core, p = &opened] { core->run(p); });
    } catch (const std::system_error& e) {
        if (failed) *failed = refused("failed", std::string("cannot start reins' thread: ") + e.what(),
                                      "the process is out of threads or memory");
        return nullptr;
    }
    Outcome o = answer.get();
    if (!o) {
        core->thread.join();
        if (failed) *failed = std::move(o);
        return nullptr;
    }
    return std::unique_ptr<SupervisorThread>(new SupervisorThread(std::move(core)));
}

SupervisorThread::~SupervisorThread() {
    shutdown();
    if (core_->thread.joinable()) core_->thread.detach();  // destroyed on reins' own thread: it ends by itself
}

void SupervisorThread::shutdown() {
    core_->begin_shutdown();
    if (on_reins_thread()) return;  // it cannot wait for itself
    std::lock_guard lock(core_->join_mu);
    if (core_->thread.joinable()) core_->thread.join();
}

bool SupervisorThread::shut_down() const {
    std::lock_guard lock(core_->mu);
    return !core_->accepting;
}

bool SupervisorThread::on_reins_thread() const noexcept { return std::this_thread::get_id() == core_->thread_id.load(); }

namespace {

Outcome wait_for(SupervisorThread& self, SupervisorThread::Core& core, HostCall call, SupervisorThread::Timeout timeout) {
    if (self.on_reins_thread())
        return refused("failed", "a blocking " + describe(call) + " was called from reins' own thread (inside a callback); it would wait for itself",
                       "use the form that takes a completion callback");
    auto box = std::make_shared<Mailbox>();
    std::string what = describe(call);
    call.done = [box](Outcome o) {
        std::lock_guard lock(box->mu);
        box->outcome = std::move(o);
        box->cv.notify_all();
    };
    if (!core.post(std::move(call))) return shut_down_outcome();
    std::unique_lock lock(box->mu);
    if (!timeout) {
        box->cv.wait(lock, [&] { return box->outcome.has_value(); });
    } else if (!box->cv.wait_for(lock, *timeout, [&] { return box->outcome.has_value(); })) {
        return refused("timeout", "no answer to `" + what + "` within " + human_duration(*timeout),
                       "it goes on in the background; status() shows where it got to");
    }
    return std::move(*box->outcome);
}

void post_or_refuse(SupervisorThread::Core& core, HostCall call) {
    auto done = call.done;
    // Shut down: nothing runs on reins' thread any more, so the caller's thread answers.
    if (!core.post(std::move(call)) && done) done(shut_down_outcome());
}

HostCall make_call(HostCall::Kind kind, std::vector<std::string> names = {}) {
    HostCall c;
    c.kind = kind;
    c.names = std::move(names);
    return c;
}

}  // namespace

Outcome SupervisorThread::add(supervisor::ServiceSpec spec, Timeout timeout) {
    std::vector<supervisor::ServiceSpec> specs;
    specs.push_back(std::move(spec));
    return add(std::move(specs), timeout);
}

Outcome SupervisorThread::add(std::vector<supervisor::ServiceSpec> specs, Timeout timeout) {
    auto c = make_call(HostCall::Kind::add);
    c.specs = std::move(specs);
    return wait_for(*this, *core_, std::move(c), timeout);
}

Outcome SupervisorThread::add_config_file(const std::string& path, Timeout timeout) {
    auto c = make_call(HostCall::Kind::add_file);
    c.text = path;
    return wait_for(*this, *core_, std::move(c), timeout);
}

Outcome SupervisorThread::add_config_text(const std::string& toml, const std::string& dir, Timeout timeout) {
    auto c = make_call(HostCall::Kind::add_text);
    c.text = toml;
    c.dir = dir;
    return wait_for(*this, *core_, std::move(c), timeout);
}

Outcome SupervisorThread::start(std::vector<std::string> names, Timeout timeout) {
    return wait_for(*this, *core_, make_call(HostCall::Kind::start, std::move(names)), timeout);
}

void SupervisorThread::start(std::vector<std::string> names, Done done) {
    auto c = make_call(HostCall::Kind::start, std::move(names));
    c.done = std::move(done);
    post_or_refuse(*core_, std::move(c));
}

Outcome SupervisorThread::stop(std::vector<std::string> names, Timeout timeout) {
    return wait_for(*this, *core_, make_call(HostCall::Kind::stop, std::move(names)), timeout);
}

void SupervisorThread::stop(std::vector<std::string> names, Done done) {
    auto c = make_call(HostCall::Kind::stop, std::move(names));
    c.done = std::move(done);
    post_or_refuse(*core_, std::move(c));
}

Outcome SupervisorThread::restart(std::string name, Timeout timeout) {
    return wait_for(*this, *core_, make_call(HostCall::Kind::restart, {std::move(name)}), timeout);
}

void SupervisorThread::restart(std::string name, Done done) {
    auto c = make_call(HostCall::Kind::restart, {std::move(name)});
    c.done = std::move(done);
    post_or_refuse(*core_, std::move(c));
}

Outcome SupervisorThread::status(Timeout timeout) {
    return wait_for(*this, *core_, make_call(HostCall::Kind::status), timeout);
}

// ---- events -----------------------------------------------------------------------

int SupervisorThread::event_fd() const noexcept { return core_->event_fd; }

std::vector<HostEvent> SupervisorThread::take_events(std::size_t max) {
    std::vector<HostEvent> out;
    std::lock_guard lock(core_->events_mu);
    while (!core_->events.empty() && out.size() < max) {
        out.push_back(std::move(core_->events.front()));
        core_->events.pop_front();
    }
    if (core_->events.empty() && core_->event_fd >= 0) {
        uint64_t n;
        (void)!::read(core_->event_fd, &n, sizeof n);  // readable no more
    }
    return out;
}

std::size_t SupervisorThread::events_dropped() const {
    std::lock_guard lock(core_->events_mu);
    return core_->dropped;
}

std::size_t SupervisorThread::callback_failures() const { return core_->callback_failures.load(); }

}  // namespace reins::control
