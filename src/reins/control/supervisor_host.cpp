#include "reins/control/supervisor_host.hpp"

#include <unistd.h>

#include <csignal>
#include <filesystem>

#include "reins/async/resident_trim.hpp"
#include "reins/async/signal_set.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/async/timer.hpp"
#include "reins/config/service_flags.hpp"
#include "reins/control/state_file.hpp"
#include "reins/control/status_json.hpp"
#include "reins/control/survivors.hpp"
#include "reins/supervisor/process_tree.hpp"

namespace reins::control {

using supervisor::ServiceState;
using supervisor::is_active;

// Every line goes to the service's log and, in `reins run`, to the console.
// A batch is a view, valid until this write completes: both sinks read the
// same bytes, no copy.
class SupervisorHost::TeeSink : public supervisor::OutputSink {
public:
    TeeSink(LogWriter* logs, supervisor::OutputSink* console) : logs_(logs), console_(console) {}
    Task<void> write(supervisor::OutputBatch batch) override {
        if (console_) co_await console_->write(batch);
        co_await logs_->write(batch);
    }

private:
    LogWriter* logs_;
    supervisor::OutputSink* console_;
};

SupervisorHost::SupervisorHost(HostOptions options) : options_(std::move(options)) {
    auto target_of = [this](const std::string& name) {
        LogTarget t;
        auto* svc = sup_ ? sup_->find(name) : nullptr;
        std::string file = svc ? svc->spec().logs.file : std::string();
        t.path = options_.paths.log_file(name, file);
        if (svc) {
            t.max_size = svc->spec().logs.max_size;
            t.keep = svc->spec().logs.keep;
        }
        return t;
    };
    auto on_error = [this](const std::string& what) { note("log write failed: " + what); };
    logs_ = std::make_unique<LogWriter>(target_of, on_error);
    tee_ = std::make_unique<TeeSink>(logs_.get(), options_.console);
    supervisor::SupervisorOptions so;
    so.sink = tee_.get();
    so.notify_dir = options_.paths.notify();
    so.say = [this](const std::string& line) { note(line); };
    so.subreaper = options_.subreaper;
    so.base_env = options_.base_env;
    so.keeper = options_.keeper;
    sup_ = std::make_unique<supervisor::Supervisor>(std::move(so));
    ControlInfo info;
    info.version = options_.version;
    info.pid = static_cast<int>(::getpid());
    info.state_dir = options_.paths.dir;
    info.config = options_.config_path;
    ControlHooks hooks;
    hooks.shutdown = [this] { request_shutdown(ShutdownReason::api); };
    hooks.add_service = [this](const nlohmann::json& body) { return add_service(body); };
    hooks.log_of = target_of;
    hooks.log_stalled = [this](const std::string& service) { return logs_->stalled(service); };
    // The API calls this only when no other request is in flight;
    // exit_when_idle decides.
    hooks.after_failed_start = [this] {
        if (options_.exit_when_idle_after_failure) (void)idle_check_.try_send(true);
    };
    hooks.closing = [this] { return shutting_down_; };
    hooks.on_request = [this] { (void)activity_.try_send(true); };
    api_ = std::make_unique<ControlApi>(*sup_, std::move(info), std::move(hooks));
    sup_->events().add_listener([this](const supervisor::ServiceEvent& e) { on_transition(e); });
}

SupervisorHost::~SupervisorHost() = default;

void SupervisorHost::note(const std::string& line) {
    if (reins_log_) {
        std::string text = LogWriter::timestamp(std::chrono::system_clock::now()) + " " + line + "\n";
        (void)reins_log_->append(text);
    }
    if (options_.say) options_.say(line);
}

Result<void> SupervisorHost::open(LockInfo* holder) {
    auto lock = SupervisorLock::acquire(options_.paths, options_.version, holder, options_.lock_data);
    if (!lock) return fail(std::move(lock).error());
    lock_.emplace(std::move(*lock));
    // notify/ holds the services' sd_notify sockets (SupervisorOptions::notify_dir).
    for (const char* sub : {"/pids", "/logs", "/notify"}) {
        auto made = make_dirs(options_.paths.dir + sub, 0700);
        if (!made) return made;
    }
    reins_log_ = std::make_unique<LogFile>(options_.paths.supervisor_log(), 10ull << 20, 3);
    if (options_.sweep_survivors) stop_survivors();
    // Pid files of a previous supervisor are stale now that we hold the lock.
    std::error_code ec;
    for (const auto& f : std::filesystem::directory_iterator(options_.paths.pids(), ec))
        std::filesystem::remove(f.path(), ec);
    auto added = sup_->add(options_.services);
    if (!added) return added;
    if (options_.control_socket) {
        auto listener = UnixListener::listen(options_.paths.sock(), 0600);
        if (!listener) return fail(std::move(listener).error());
        http::ServerOptions so;
        so.allow_peer = http::allow_owner_and_root();
        server_ = std::make_unique<http::Server>(std::move(*listener), api_->router(), so);
    }
    if (options_.control_socket && !options_.settings.listen.empty()) {
        auto ep = parse_endpoint(options_.settings.listen_host, options_.settings.listen_port);
        if (!ep) return fail(std::move(ep).error());
        auto tcp = TcpListener::listen(*ep);
        if (!tcp) return fail(Error{tcp.error().code, "[supervisor] listen " + options_.settings.listen + ": " +
                                                          tcp.error().message()});
        http::Router probes;
        supervisor::Supervisor* sup = sup_.get();
        probes.add("GET", "/live", [](http::Request, std::stop_token) -> Task<http::Response> {
            co_return http::Response::text("ok\n");
        });
        probes.add("GET", "/ready", [sup](http::Request, std::stop_token) { return ready_answer(sup); });
        probes_ = std::make_unique<http::Server>(std::move(*tcp), std::move(probes), http::ServerOptions{});
    }
    (void)reins_log_->append(LogWriter::timestamp(std::chrono::system_clock::now()) + " supervisor pid " +
                             std::to_string(::getpid()) + " on " + options_.paths.dir +
                             (options_.config_path.empty() ? std::string() : " (config " + options_.config_path + ")") +
                             "\n");
    write_state();
    remember_state_dir();
    return {};
}

bool SupervisorHost::has_work() const {
    // One restarting after its failed start does not count.
    for (const auto& s : sup_->status())
        if (s.state == ServiceState::running || s.state == ServiceState::starting || s.state == ServiceState::stopping)
            return true;
    return false;
}

Task<void> SupervisorHost::exit_when_idle(SupervisorHost* self, std::stop_token stop) {
    // After a failed start: leave once no service runs, starts or stops and
    // the API has been idle for a while — a `reins start` that just saw us
    // answer is about to add its service.
    constexpr auto quiet = std::chrono::milliseconds(1000);
    for (;;) {
        auto asked = co_await self->idle_check_.recv(stop);
        if (!asked) co_return;
        for (;;) {
            auto slept = co_await sleep(quiet / 4, stop);
            if (!slept) co_return;
            if (self->has_work()) break;
            if (!self->api_->idle_for(quiet)) continue;
            self->note("no service is running after the failed start: shutting down");
            self->request_shutdown(ShutdownReason::idle_after_failure);
            co_return;
        }
    }
}

Task<void> SupervisorHost::trim_when_quiet(SupervisorHost* self, std::stop_token stop) {
    // One timer while something happens, none while idle: the trim runs once
    // per quiet spell, after its first two seconds.
    constexpr auto quiet = std::chrono::milliseconds(2000);
    for (;;) {
        auto woke = co_await self->activity_.recv(stop);
        if (!woke) co_return;
        for (;;) {
            auto slept = co_await sleep(quiet, stop);
            if (!slept) co_return;
            if (!self->activity_.try_recv()) break;  // something happened meanwhile: wait again
        }
        self->trim_->request();
    }
}

Task<http::Response> SupervisorHost::ready_answer(supervisor::Supervisor* sup) {
    std::string waiting;
    for (const auto& s : sup->status())
        if (s.state != ServiceState::running) waiting += s.name + " " + std::string(to_string(s.state)) + "\n";
    if (waiting.empty()) co_return http::Response::text("ready\n");
    co_return http::Response::text(waiting, 503);
}

Result<std::string> SupervisorHost::add_service(const nlohmann::json& body) {
    auto cmd = body.find("command");
    if (cmd == body.end() || !cmd->is_array() || cmd->empty())
        return fail(Errc::config, "\"command\" must be a non-empty array of strings");
    std::vector<std::string> argv;
    for (const auto& a : *cmd) {
        if (!a.is_string()) return fail(Errc::config, "\"command\" must be a non-empty array of strings");
        argv.push_back(a.get<std::string>());
    }
    config::FlagValues flags;
    if (auto f = body.find("flags"); f != body.end()) {
        if (!f->is_object()) return fail(Errc::config, "\"flags\" must be an object of arrays of strings");
        for (const auto& [k, v] : f->items()) {
            if (!v.is_array()) return fail(Errc::config, "flag " + k + " must be an array of strings");
            for (const auto& x : v) {
                if (!x.is_string()) return fail(Errc::config, "flag " + k + " must be an array of strings");
                flags[k].push_back(x.get<std::string>());
            }
        }
    }
    std::string cwd = options_.base_dir;
    if (auto c = body.find("cwd"); c != body.end()) {
        if (!c->is_string()) return fail(Errc::config, "\"cwd\" must be a string (a directory)");
        cwd = c->get<std::string>();
    }
    auto spec = config::spec_from_command(std::move(argv), flags, cwd);
    if (!spec) return fail(std::move(spec).error());
    if (sup_->find(spec->name)) return spec->name;  // already there: starting it is a no-op
    std::string name = spec->name;
    auto added = sup_->add(std::move(*spec));
    if (!added) return fail(std::move(added).error());
    note("added service " + name);
    write_state();
    return name;
}

void SupervisorHost::on_transition(const supervisor::ServiceEvent& e) {
    // Runs inside the service's actor (an EventBus listener): whatever goes
    // wrong here is said in reins.log, never thrown into the actor.
    try {
        record_transition(e);
    } catch (const std::exception& x) {
        note("cannot record " + e.service + " -> " + std::string(to_string(e.to)) + ": " + x.what());
    }
    check_all_ended();
}

void SupervisorHost::record_transition(const supervisor::ServiceEvent& e) {
    (void)activity_.try_send(true);
    logs_->event(e);
    std::string line = e.service + ": " + std::string(to_string(e.from)) + " -> " + std::string(to_string(e.to));
    if (!e.reason.empty()) line += " (" + e.reason + ")";
    if (e.pid) line += " pid " + std::to_string(e.pid);
    if (reins_log_) (void)reins_log_->append(LogWriter::timestamp(std::chrono::system_clock::now()) + " " + line + "\n");
    if (lock_) {
        if ((e.to == ServiceState::starting || e.to == ServiceState::running) && e.pid > 0)
            (void)write_pid_file(options_.paths, e.service, e.pid);
        else if (!is_active(e.to) || e.to == ServiceState::restarting)
            remove_pid_file(options_.paths, e.service);
        write_state();
    }
    if (options_.on_event) options_.on_event(e);
}

void SupervisorHost::write_state() {
    if (!lock_) return;
    StateSnapshot snap;
    snap.supervisor = lock_->info();
    snap.config = options_.config_path;
    auto now = std::chrono::steady_clock::now();
    for (const auto& s : sup_->status()) {
        ServiceRecord r;
        r.name = s.name;
        r.state = std::string(to_string(s.state));
        r.health = std::string(to_string(s.health));
        r.pid = s.pid;
        r.pid_start_time = s.pid_start_time;
        r.port = s.port;
        r.restarts = s.restarts;
        r.instance = s.instance;
        if (s.since && s.state == ServiceState::running)
            r.since = LogWriter::timestamp(std::chrono::system_clock::now() -
                                           std::chrono::duration_cast<std::chrono::system_clock::duration>(now - *s.since));
        r.last_exit = s.last_exit ? s.last_exit->describe() : std::string();
        r.status_text = s.status_text;
        snap.services.push_back(std::move(r));
    }
    auto w = control::write_state(options_.paths, snap);
    if (!w && reins_log_) (void)reins_log_->append("state.json: " + w.error().message() + "\n");
}

void SupervisorHost::check_all_ended() {
    if (!options_.exit_when_all_ended || !armed_ || shutting_down_) return;
    for (const auto& s : sup_->status())
        if (is_active(s.state)) return;
    request_shutdown(ShutdownReason::all_ended);
}

void SupervisorHost::request_shutdown(ShutdownReason why) {
    if (shutting_down_) return;
    shutting_down_ = true;
    shutdown_reason_ = why;
    shutdown_.try_send(why);
    shutdown_source_.request_stop();
}

void SupervisorHost::stop_survivors() {
    // Under our lock nobody else writes state.json or reins.lock: what they
    // say is the previous supervisor's last word.
    auto snap = read_state(options_.paths);
    const LockInfo who = lock_->previous() ? *lock_->previous() : (snap ? snap->supervisor : LockInfo{});
    auto found = find_survivors(snap ? std::optional<StateSnapshot>(std::move(*snap)) : std::nullopt, who);
    if (found.empty()) return;
    for (const auto& s : found)
        note("stopping " + s.service + " pid " + std::to_string(s.process.pid) + " (" + s.command +
             "), left by a supervisor that is gone (pid " + std::to_string(who.pid) + ")");
    auto left = control::stop_survivors(std::move(found), std::chrono::seconds(10));
    for (const auto& s : left)
        note("warning: " + s.service + " pid " + std::to_string(s.process.pid) +
             " survives SIGKILL (uninterruptible sleep?); it may hold its port");
}

void SupervisorHost::kill_everything() {
    for (const auto& s : sup_->status()) {
        if (s.pid <= 0 && s.instance.empty()) continue;
        auto procs = supervisor::service_processes(s.pid, s.instance);
        supervisor::signal_all(procs, SIGKILL);
    }
}

Task<void> SupervisorHost::run_supervisor(SupervisorHost* self, std::stop_token stop, std::stop_source* then_stop) {
    co_await self->sup_->run(std::move(stop));
    then_stop->request_stop();  // services are gone: now the servers may go
}

Task<void> SupervisorHost::serve(http::Server* server, std::stop_token stop) { co_await server->run(std::move(stop)); }

Task<void> SupervisorHost::watch_signals(SupervisorHost* self, std::stop_token stop) {
    auto set = SignalSet::create({SIGINT, SIGTERM, SIGHUP});
    if (!set) {
        self->note("cannot watch signals: " + set.error().message());
        co_return;
    }
    for (;;) {
        auto sig = co_await set->next(stop);
        if (!sig) co_return;
        if (*sig == SIGHUP) {
            self->note("SIGHUP ignored (reload is not supported; use reins restart)");
            continue;
        }
        if (!self->shutting_down_) {
            self->note(std::string("received SIG") + sigabbrev_np(*sig) + ": stopping every service" +
                       (*sig == SIGINT ? " (Ctrl-C again to kill them now)" : ""));
            self->request_shutdown(ShutdownReason::signal);
        } else if (*sig == SIGINT && !self->forced_) {
            self->forced_ = true;
            self->note("second SIGINT: sending SIGKILL to every service process");
            self->kill_everything();
        }
    }
}

Task<void> SupervisorHost::run(std::stop_token stop) {
    std::stop_source sup_stop;
    std::stop_source serve_stop;
    {
        TaskScope scope = TaskScope::shielded();
        scope.spawn(run_supervisor(this, sup_stop.get_token(), &serve_stop));
        if (server_) scope.spawn(serve(server_.get(), serve_stop.get_token()));
        if (probes_) scope.spawn(serve(probes_.get(), serve_stop.get_token()));
        if (options_.signals) scope.spawn(watch_signals(this, serve_stop.get_token()));
        scope.spawn(exit_when_idle(this, serve_stop.get_token()));
        if (options_.trim_when_quiet) {
            trim_ = std::make_unique<ResidentTrim>(Loop::current());
            (void)activity_.try_send(true);  // the start-up itself
            scope.spawn(trim_when_quiet(this, serve_stop.get_token()));
        }
        scope.spawn(watch_state_dir(this, serve_stop.get_token()));
        auto why = co_await shutdown_.recv(stop);
        if (!why) request_shutdown(ShutdownReason::stop_token);
        sup_stop.request_stop();
        co_await scope.join();
    }
    logs_->flush();
    write_state();
    if (reins_log_)
        (void)reins_log_->append(LogWriter::timestamp(std::chrono::system_clock::now()) + " supervisor pid " +
                                 std::to_string(::getpid()) + " exiting\n");
    lock_.reset();
}

}  // namespace reins::control
