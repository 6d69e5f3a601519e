// The state a SupervisorThread shares between the host's threads and reins'
// thread (private to supervisor_thread*.cpp). Fields under `mu` or
// `events_mu` cross threads; everything the loop touches lives on reins'
// thread, in supervisor_thread_loop.cpp and supervisor_thread_call_order.cpp.
#pragma once

#include <atomic>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "reins/control/supervisor_thread.hpp"

namespace reins {
class Doorbell;
}

namespace reins::control {

/// One call from the host, carried to reins' thread.
struct HostCall {
    enum class Kind { add, add_file, add_text, start, stop, restart, status };
    Kind kind = Kind::status;
    std::vector<supervisor::ServiceSpec> specs;  ///< add
    std::vector<std::string> names;              ///< start, stop, restart (one)
    std::string text;                            ///< add_file: the path; add_text: the TOML
    std::string dir;                             ///< add_text: where relative paths resolve
    SupervisorThread::Done done;                 ///< runs on reins' thread
};

struct SupervisorThread::Core {
    explicit Core(Options o) : options(std::move(o)) {}
    ~Core();

    Options options;
    std::thread thread;
    std::atomic<std::thread::id> thread_id{};

    // ---- crossing threads (mu) ----
    std::mutex mu;
    std::deque<HostCall> inbox;
    bool accepting = true;      ///< false once shutdown began
    Doorbell* bell = nullptr;   ///< while reins' thread serves; rung under mu
    std::mutex join_mu;         ///< one joiner at a time

    // ---- queued events (events_mu) ----
    mutable std::mutex events_mu;
    std::deque<HostEvent> events;
    std::size_t dropped = 0;
    int event_fd = -1;
    std::atomic<std::size_t> callback_failures{0};

    /// Hands a call to reins' thread; false once the handle is shut down.
    bool post(HostCall call);
    /// Stops accepting calls and wakes reins' thread to shut down.
    void begin_shutdown();
    /// On reins' thread: hands `e` to the host's callback and queue.
    void deliver(const HostEvent& e);
    /// Queues `e` for take_events(), dropping the oldest beyond queue_capacity
    /// (notes about a misbehaving callback too: they never grow without bound).
    void queue(const HostEvent& e);
    /// On reins' thread: runs a call's completion, containing what it throws.
    void complete(HostCall& call, Outcome outcome);
    /// Reins' thread: everything from opening to the last service stopped.
    void run(std::promise<Outcome>* opened);
};

/// The outcome of a call the handle refused because it was shut down.
Outcome shut_down_outcome();

}  // namespace reins::control
