#include "reins/supervisor/instance.hpp"

#include <algorithm>

#include "reins/async/line_reader.hpp"
#include "reins/async/when.hpp"
#include "reins/supervisor/ended_run.hpp"
#include "reins/supervisor/process_table.hpp"
#include "reins/supervisor/process_tree.hpp"
#include "reins/supervisor/shared_scan.hpp"

namespace reins::supervisor {
namespace {

constexpr std::size_t recent_lines = 20;

// "$PORT" and "${PORT}" in an argv element.
std::string substitute_port(std::string s, int port) {
    const std::string p = std::to_string(port);
    for (const char* pat : {"${PORT}", "$PORT"}) {
        std::string_view needle(pat);
        for (auto pos = s.find(needle); pos != std::string::npos; pos = s.find(needle, pos + p.size()))
            s.replace(pos, needle.size(), p);
    }
    return s;
}

bool kept_by_env_clear(std::string_view kv) {
    for (std::string_view k : {"PATH=", "HOME=", "USER=", "LANG="})
        if (kv.substr(0, k.size()) == k) return true;
    return false;
}

}  // namespace

Instance::Instance(const ServiceSpec& spec, InstanceContext ctx) : spec_(spec), ctx_(std::move(ctx)) {}

Instance::~Instance() {
    // The normal path is shutdown(); a failed run() unwinding may skip it.
    assert((shut_down_ || Loop::current().tearing_down()) && "Instance destroyed without shutdown()");
}

std::vector<std::string> Instance::environment() const {
    std::map<std::string, std::string> env;
    static const std::vector<std::string> none;
    for (const auto& kv : ctx_.base_env ? *ctx_.base_env : none) {
        if (spec_.env_clear && !kept_by_env_clear(kv)) continue;
        auto eq = kv.find('=');
        if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : spec_.env) env[k] = v;
    if (ctx_.port) {
        env["PORT"] = std::to_string(ctx_.port);
        if (!spec_.port_env.empty()) env[spec_.port_env] = std::to_string(ctx_.port);
    }
    env["REINS_SERVICE"] = spec_.name;
    env["REINS_INSTANCE"] = ctx_.instance_id;
    if (!ctx_.notify_path.empty()) env["NOTIFY_SOCKET"] = ctx_.notify_path;
    if (spec_.health.kind == ProbeKind::watchdog && spec_.health.watchdog.count() > 0)
        env["WATCHDOG_USEC"] = std::to_string(spec_.health.watchdog.count() * 1000);
    std::vector<std::string> out;
    out.reserve(env.size());
    for (auto& [k, v] : env) out.push_back(k + "=" + v);
    return out;
}

std::vector<std::string> Instance::argv() const {
    if (spec_.command.is_shell()) return {"/bin/sh", "-c", std::get<0>(spec_.command.value)};
    auto args = std::get<1>(spec_.command.value);
    if (ctx_.port)
        for (auto& a : args) a = substitute_port(std::move(a), ctx_.port);
    return args;
}

ProbeTarget Instance::probe_target(ProbeKind kind, const std::string& target) const {
    ProbeTarget t;
    t.kind = kind;
    t.host = spec_.host;
    t.port = ctx_.port;
    t.target = ctx_.port ? substitute_port(target, ctx_.port) : target;
    if (kind == ProbeKind::exec) {
        t.env = environment();
        t.cwd = spec_.cwd;
    }
    return t;
}

Result<std::unique_ptr<Instance>> Instance::launch(const ServiceSpec& spec, InstanceContext ctx) {
    std::unique_ptr<Instance> inst(new Instance(spec, std::move(ctx)));
    if (spec.ready.kind == ProbeKind::log) {
        auto pattern = LogPattern::compile(spec.ready.target);
        if (!pattern) {
            inst->shut_down_ = true;
            return fail(Errc::config, "ready.log regex \"" + spec.ready.target + "\": " + pattern.error().context);
        }
        inst->ready_regex_.emplace(std::move(*pattern));
    }
    if (!inst->ctx_.notify_path.empty()) {
        auto sock = DatagramSocket::bind(inst->ctx_.notify_path);
        if (!sock) {
            inst->shut_down_ = true;
            return fail(std::move(sock).error());
        }
        inst->notify_ = std::move(*sock);
    }
    ProcessOptions o;
    o.argv = inst->argv();
    o.env = inst->environment();
    o.cwd = spec.cwd;
    auto proc = Process::spawn(std::move(o));
    if (!proc) {
        inst->shut_down_ = true;
        return fail(std::move(proc).error());
    }
    inst->proc_ = std::move(*proc);
    inst->pid_ = inst->proc_.pid();
    auto started = process_start_time(inst->pid_);
    inst->start_time_ = started ? *started : 0;
    inst->adopted_at_launch_ = adopts_orphans();

    Instance& self = *inst;
    self.tasks_.spawn(self.capture(self.proc_.take_stdout(), false, self.tasks_.token()));
    self.tasks_.spawn(self.capture(self.proc_.take_stderr(), true, self.tasks_.token()));
    self.tasks_.spawn(self.watch_exit(self.tasks_.token()));
    self.tasks_.spawn(self.readiness(self.tasks_.token()));
    if (self.notify_) self.tasks_.spawn(self.notifications(self.tasks_.token()));
    return inst;
}

void Instance::start_liveness() {
    if (spec_.health.kind == ProbeKind::watchdog) {
        if (spec_.health.watchdog.count() > 0) tasks_.spawn(watchdog(tasks_.token()));
    } else if (spec_.health.kind != ProbeKind::none) {
        tasks_.spawn(liveness(tasks_.token()));
    }
}

Task<void> Instance::shutdown(Millis drain) {
    // Let the capture tasks reach end of stream (a survivor may still hold
    // the pipes: they are only waited for `drain`).
    while (captures_ > 0) {
        auto recv = [this](std::stop_token s) { return drained_.recv(std::move(s)); };
        auto d = co_await with_timeout(drain, {}, recv);
        if (!d) break;
    }
    tasks_.request_stop();
    co_await tasks_.join();
    shut_down_ = true;
}

Task<void> Instance::capture(Stream pipe, bool err, std::stop_token stop) {
    ++captures_;
    LineReader reader(pipe);
    for (;;) {
        // Every line one read completed; the views stay valid until the
        // next next_batch(), so the sink writes them without a copy.
        auto lines = co_await reader.next_batch(stop);
        if (!lines) break;
        if (ctx_.recent) keep_recent(*lines);
        OutputBatch batch{spec_.name, err, std::chrono::system_clock::now(), lines->data, lines->pieces, stop};
        if (ready_regex_ && !ready_seen_) {
            auto ready = ready_index(*lines);
            if (ready) {
                ready_seen_ = true;
                // The lines before the ready line reach the sink before the
                // report, the ready line and the rest after it.
                if (ctx_.sink && *ready > 0) {
                    OutputBatch before = batch;
                    before.lines = batch.lines.first(*ready);
                    co_await ctx_.sink->write(before);
                }
                batch.lines = batch.lines.subspan(*ready);
                // The event names the line, not all of it: a line may be 64 KiB.
                std::string_view line = lines->text(*ready);
                std::string detail = "log line \"" + std::string(line.substr(0, 200)) + (line.size() > 200 ? "…\"" : "\"");
                auto sent = co_await report(InstanceEvent::Kind::ready, std::move(detail));
                (void)sent;
            }
        }
        if (ctx_.sink) co_await ctx_.sink->write(batch);  // backpressure: read on only when written
    }
    --captures_;
    (void)drained_.try_send(1);
}

std::optional<std::size_t> Instance::ready_index(const LineReader::Batch& lines) const {
    for (std::size_t i = 0; i < lines.pieces.size(); ++i)
        if (ready_regex_->found_in(lines.text(i))) return i;
    return std::nullopt;
}

void Instance::keep_recent(const LineReader::Batch& lines) {
    // Only the batch's last lines can end up in the tail: copying the
    // others only to drop them would cost an allocation per line.
    std::deque<std::string>& recent = *ctx_.recent;
    const std::size_t n = lines.pieces.size();
    for (std::size_t i = n > recent_lines ? n - recent_lines : 0; i < n; ++i) {
        std::string slot;  // the oldest entry's storage, reused when the tail is full
        while (recent.size() >= recent_lines) {
            slot = std::move(recent.front());
            recent.pop_front();
        }
        slot.assign(lines.text(i));
        recent.push_back(std::move(slot));
    }
}

Channel<ServiceMessage>::SendAwaiter Instance::report(InstanceEvent::Kind kind, std::string detail, ExitStatus st) {
    InstanceEvent e{kind, std::move(detail), st, ctx_.generation};
    // Every reporting task runs in tasks_: its token is the one shutdown() stops.
    return ctx_.mailbox->send(ServiceMessage(std::move(e)), tasks_.token());
}

int Instance::main_pid() const {
    if (main_watch_ && !main_watch_.exited()) return main_watch_.pid();
    return pid_;
}

std::optional<ExitStatus> Instance::exit_status() const {
    if (main_watch_) return main_watch_.exit_status();
    return proc_.exit_status();
}

std::vector<ProcessRef> Instance::processes() const { return scan_processes().all(); }

ServiceProcesses Instance::scan_processes(const FoundVisitor& on_found) const {
    auto found = scan_service(pid_, ctx_.instance_id, start_time_, on_found);
    if (main_ref_.pid > 1 && !found.contains(main_ref_) && process_alive(main_ref_)) {
        found.outside.push_back(main_ref_);
        if (on_found) on_found(main_ref_, false);
    }
    return found;
}

Task<ServiceProcesses> Instance::scan_processes_shared() const {
    const bool main_alive = main_ref_.pid > 1 && process_alive(main_ref_);
    ScanRequest request{pid_, ctx_.instance_id, start_time_, proc_.exited() && !main_alive && adopted_at_launch_};
    ServiceProcesses found = co_await scan_shared(std::move(request));
    if (main_ref_.pid > 1 && !found.contains(main_ref_) && process_alive(main_ref_)) found.outside.push_back(main_ref_);
    co_return found;
}

std::string Instance::take_status_text() {
    status_queued_ = false;
    return status_text_;
}

// The service's exit is its main process's: the spawned one, or the pid
// MAINPID= handed over to (a forking daemon), whose exit ends the run even
// while the spawned process lives — and while which the run goes on after
// the spawned process exited.
Task<void> Instance::watch_exit(std::stop_token stop) {
    for (;;) {
        ExitStatus status;
        std::string detail;
        if (!main_watch_) {
            auto exit = [this](std::stop_token s) { return proc_.wait(std::move(s)); };
            auto moved = [this](std::stop_token s) { return main_moved_.recv(std::move(s)); };
            auto r = co_await when_any(stop, exit, moved);
            if (stop.stop_requested()) co_return;
            if (r.index() == 1) continue;  // MAINPID= moved the main pid: watch that one
            auto& st = std::get<0>(r);
            if (!st) co_return;
            status = *st;
        } else {
            auto gone = [this](std::stop_token s) { return main_watch_.wait(std::move(s)); };
            auto moved = [this](std::stop_token s) { return main_moved_.recv(std::move(s)); };
            auto r = co_await when_any(stop, gone, moved);
            if (stop.stop_requested()) co_return;
            if (r.index() == 1) continue;
            auto& st = std::get<0>(r);
            if (!st) continue;  // that watch was replaced by a newer MAINPID=
            const std::string who = "main pid " + std::to_string(main_watch_.pid());
            if (*st) {
                status = **st;
            } else {
                status.code = -1;
                detail = who + " exited (status unknown: not a child of reins)";
            }
        }
        // A message sent before the exit (STOPPING=1, MAINPID=) counts first.
        co_await settle_notifications(stop);
        if (stop.stop_requested()) co_return;
        if (main_watch_ && !main_watch_.exited()) continue;  // handed over: the run lives on in it
        auto sent = co_await report(InstanceEvent::Kind::exited, std::move(detail), status);
        (void)sent;
        co_return;
    }
}

}  // namespace reins::supervisor
