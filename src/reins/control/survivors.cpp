#include "reins/control/survivors.hpp"

#include "reins/control/supervisor_lock.hpp"
#include "reins/supervisor/instance_id.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <set>
#include <thread>

namespace reins::control {
namespace {

using supervisor::ProcessRef;

std::vector<ProcessRef> refs_of(const std::vector<Survivor>& survivors) {
    std::vector<ProcessRef> refs;
    refs.reserve(survivors.size());
    for (const auto& s : survivors) refs.push_back(s.process);
    return refs;
}

// Drops those no longer alive (gone, zombie, or pid now someone else's).
void drop_gone(std::vector<Survivor>& survivors) {
    std::erase_if(survivors, [](const Survivor& s) { return !supervisor::process_alive(s.process); });
}

// Polls every 10 ms until none is left or `deadline` has passed.
void wait_gone(std::vector<Survivor>& survivors, std::chrono::steady_clock::time_point deadline) {
    using namespace std::chrono;
    for (;;) {
        drop_gone(survivors);
        if (survivors.empty() || steady_clock::now() >= deadline) return;
        std::this_thread::sleep_for(10ms);
    }
}

}  // namespace

std::string process_command(int pid, std::size_t max) {
    if (pid <= 0) return {};
    std::string path = "/proc/" + std::to_string(pid) + "/cmdline";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {};
    std::string text(max + 1, '\0');
    ssize_t n;
    do {
        n = ::read(fd, text.data(), text.size());
    } while (n < 0 && errno == EINTR);
    ::close(fd);
    text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    while (!text.empty() && text.back() == '\0') text.pop_back();
    std::replace(text.begin(), text.end(), '\0', ' ');
    if (text.size() > max) text.resize(max);
    return text;
}

std::vector<Survivor> find_survivors(const StateSnapshot& snap) {
    std::vector<Survivor> out;
    std::set<pid_t> seen{::getpid()};
    auto add = [&](const std::string& service, const ProcessRef& ref) {
        if (!seen.insert(ref.pid).second) return;
        out.push_back(Survivor{service, ref, process_command(ref.pid)});
    };
    for (const auto& rec : snap.services) {
        // A pid without its start time is not trusted at all; our own pid
        // (and so our own group) is never a survivor.
        const ProcessRef main{static_cast<pid_t>(rec.pid), rec.pid_start_time};
        const bool main_alive = rec.pid > 1 && rec.pid != ::getpid() && rec.pid_start_time != 0 &&
                                supervisor::process_alive(main);
        if (main_alive) add(rec.name, main);
        auto members = supervisor::service_processes(main_alive ? main.pid : 0, rec.instance);
        std::sort(members.begin(), members.end(),
                  [](const ProcessRef& a, const ProcessRef& b) { return a.pid < b.pid; });
        for (const auto& ref : members) add(rec.name, ref);
    }
    return out;
}

std::vector<Survivor> find_survivors(const StatePaths& paths) {
    auto lock = inspect_lock(paths);
    if (lock.held) return {};
    auto snap = read_state(paths);
    // The supervisor that made the ids: reins.lock's holder, else state.json's writer.
    LockInfo who = lock.info ? *lock.info : (snap ? snap->supervisor : LockInfo{});
    return find_survivors(snap ? std::optional<StateSnapshot>(std::move(*snap)) : std::nullopt, who);
}

std::vector<Survivor> find_survivors(std::optional<StateSnapshot> snap, const LockInfo& who) {
    // Our own (an earlier host in this process): its services are its own.
    if (who.pid == ::getpid()) return {};
    // Still alive a second later (its state directory was moved, and this is
    // the old copy): its processes are supervised, not survivors. One that
    // was just SIGKILLed is gone within milliseconds.
    const supervisor::ProcessRef holder{static_cast<pid_t>(who.pid), who.start_time};
    if (who.pid > 1 && who.start_time != 0) {
        bool alive = supervisor::process_alive(holder);
        for (int i = 0; alive && i < 50; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            alive = supervisor::process_alive(holder);
        }
        if (alive) return {};
    }
    std::vector<Survivor> out = snap ? find_survivors(*snap) : std::vector<Survivor>{};
    if (who.pid <= 1 || who.start_time == 0) return out;
    std::set<pid_t> seen{::getpid()};
    for (const auto& s : out) seen.insert(s.process.pid);
    for (auto& t : supervisor::find_tagged_processes(supervisor::supervisor_tag(who.pid, who.start_time)))
        if (seen.insert(t.process.pid).second)
            out.push_back(Survivor{std::move(t.service), t.process, process_command(t.process.pid)});
    return out;
}

std::vector<Survivor> stop_survivors(std::vector<Survivor> survivors, std::chrono::milliseconds grace) {
    using namespace std::chrono;
    drop_gone(survivors);
    if (survivors.empty()) return survivors;
    const auto refs = refs_of(survivors);
    supervisor::signal_all(refs, SIGTERM);
    supervisor::signal_all(refs, SIGCONT);  // a stopped process would not act on SIGTERM
    wait_gone(survivors, steady_clock::now() + grace);
    if (survivors.empty()) return survivors;
    supervisor::signal_all(refs_of(survivors), SIGKILL);
    wait_gone(survivors, steady_clock::now() + 2s);
    return survivors;
}

}  // namespace reins::control
