// Drives a real Supervisor against real processes (the fixture server).
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "fixture.hpp"
#include "harness.hpp"
#include "reins/supervisor/process_tree.hpp"
#include "reins/supervisor/supervisor.hpp"
#include "temp_dir.hpp"

namespace reins::test {

using namespace reins::supervisor;

/// An argv running the fixture with `args`.
inline CommandSpec fixture_cmd(std::vector<std::string> args) {
    args.insert(args.begin(), fixture_path());
    return CommandSpec{std::move(args)};
}

/// A spec with test-friendly defaults: short grace, fast backoff.
inline ServiceSpec spec(std::string name, CommandSpec cmd) {
    ServiceSpec s;
    s.name = std::move(name);
    s.command = std::move(cmd);
    s.stop.timeout = Millis(2000);
    s.restart.initial = Millis(20);
    s.restart.max_delay = Millis(200);
    s.restart.jitter = 0;
    return s;
}

/// Collects every output line, for assertions (copied: a batch is a view).
class CollectingSink : public OutputSink {
public:
    Task<void> write(OutputBatch batch) override {
        for (std::size_t i = 0; i < batch.size(); ++i) lines.push_back(batch.line(i));
        co_return;
    }
    bool saw(const std::string& needle) const {
        for (const auto& l : lines)
            if (l.text.find(needle) != std::string::npos) return true;
        return false;
    }
    std::vector<OutputLine> lines;
};

inline SupervisorOptions sink_options(OutputSink* sink) {
    SupervisorOptions o;
    o.sink = sink;
    return o;
}

inline std::string read_file(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

/// The error message of a failed Result, for REQUIRE_MESSAGE ("" if none).
template <class R>
std::string why(const R& r) {
    return r ? std::string() : r.error().message();
}

/// Alive and not a zombie (a killed orphan may wait a moment for its reaper).
inline bool pid_alive(int pid) {
    if (pid <= 0 || ::kill(pid, 0) != 0) return false;
    auto stat = read_proc_stat(pid);
    return stat && stat->state != 'Z';
}

// Runs `body(sup, stop)` while sup.run() is active; the supervisor is then
// stopped — every service's processes stopped — even if the body threw.
template <class Body>
Task<void> with_running(Supervisor* sup, Body body, std::stop_token stop) {
    TaskScope scope = TaskScope::shielded();
    std::stop_source sup_stop;
    scope.spawn(sup->run(sup_stop.get_token()));
    std::exception_ptr error;
    try {
        co_await body(*sup, stop);
    } catch (...) {
        error = std::current_exception();
    }
    sup_stop.request_stop();
    co_await scope.join();
    if (error) std::rethrow_exception(error);
}

/// A Supervisor built by `setup(sup)`, driven by `body`, under a deadline.
template <class Body>
void run_engine(Supervisor& sup, Body body, std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
    run_test([&sup, body](std::stop_token stop) { return with_running(&sup, body, std::move(stop)); }, deadline);
}

/// Records every event, for order and timing assertions.
struct EventLog {
    explicit EventLog(Supervisor& sup) {
        sup.events().add_listener([this](const ServiceEvent& e) { events.push_back(e); });
    }
    std::vector<ServiceEvent> events;
    std::vector<ServiceEvent> of(const std::string& name, ServiceState to) const {
        std::vector<ServiceEvent> out;
        for (const auto& e : events)
            if (e.service == name && e.to == to && e.from != e.to) out.push_back(e);
        return out;
    }
};

}  // namespace reins::test
