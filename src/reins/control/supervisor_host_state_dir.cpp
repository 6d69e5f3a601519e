// SupervisorHost, continued: the state directory removed (or moved away)
// under a running supervisor — `rm -rf .reins`, `git clean -xdf`.
//
// Without this the supervisor would go on supervising, found by no command,
// and the next `reins start` would run a second one beside it. An inotify
// watch on the folder's parent (no timer: nothing wakes while nothing
// happens) sees it go; the supervisor then creates the folder again and,
// lock first, puts back reins.lock, reins.pid, pids/, logs/ (its open log
// files are reopened there), notify/, reins.sock and state.json. A folder
// moved away (or a parent moved) is treated like a removed one.
//
// The window: between the removal and the relock (one loop iteration after
// the kernel's event, normally well under a millisecond) the path holds no
// lock. A `reins start` whose supervisor locks the new folder inside that
// window wins; this supervisor then sees the lock busy, says so in the
// winner's reins.log, touches nothing else there, and stops its services
// and exits, so that two supervisors never go on side by side.
#include <sys/stat.h>

#include "reins/async/file_watch.hpp"
#include "reins/control/state_file.hpp"
#include "reins/control/supervisor_host.hpp"

namespace reins::control {

using supervisor::ServiceState;
using supervisor::is_active;

namespace {

std::string basename_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string parent_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? std::string("/") : path.substr(0, slash);
}

}  // namespace

void SupervisorHost::remember_state_dir() {
    struct stat st {};
    if (::stat(options_.paths.dir.c_str(), &st) != 0) return;
    dir_dev_ = static_cast<uint64_t>(st.st_dev);
    dir_ino_ = static_cast<uint64_t>(st.st_ino);
}

bool SupervisorHost::state_dir_replaced() const {
    struct stat st {};
    if (::stat(options_.paths.dir.c_str(), &st) != 0) return true;
    return static_cast<uint64_t>(st.st_dev) != dir_dev_ || static_cast<uint64_t>(st.st_ino) != dir_ino_;
}

Result<void> SupervisorHost::recreate_state_dir() {
    const StatePaths& paths = options_.paths;
    LockInfo holder;
    auto relocked = lock_->relock(&holder);
    if (!relocked) return relocked;
    remember_state_dir();
    // Lines buffered for the old files go to the new ones.
    reins_log_->reopen();
    logs_->reopen();
    std::string trouble;
    for (const char* sub : {"/pids", "/logs", "/notify"}) {
        auto made = make_dirs(paths.dir + sub, 0700);
        if (!made) trouble += "; " + made.error().message();
    }
    if (server_) {
        auto listener = UnixListener::listen(paths.sock(), 0600);
        if (listener) {
            server_->replace_listener(std::move(*listener));
        } else {
            trouble += "; " + listener.error().message() +
                       " (commands cannot reach this supervisor: stop it with kill " +
                       std::to_string(lock_->info().pid) + ")";
        }
    }
    for (const auto& s : sup_->status()) {
        if (s.pid <= 0 || !is_active(s.state) || s.state == ServiceState::restarting) continue;
        auto w = write_pid_file(paths, s.name, s.pid);
        if (!w) trouble += "; " + w.error().message();
    }
    write_state();
    // sd_notify sockets are bound per run of a service: a running service's
    // socket file is gone with the folder and comes back at its next start.
    note("warning: state directory " + paths.dir + " was removed; recreated it (supervisor pid " +
         std::to_string(lock_->info().pid) + ")" + trouble);
    return {};
}

Task<void> SupervisorHost::watch_state_dir(SupervisorHost* self, std::stop_token stop) {
    const std::string dir = self->options_.paths.dir;
    int retries = 0;  // recreations that failed because the folder went again meanwhile
    for (;;) {
        // The parent is watched, for events about the entry of our folder:
        // the folder's own IN_DELETE_SELF comes only once nothing pins it,
        // and our open (deleted) log files do. The folder's removal or move
        // is an event of its parent at once; state.json's rewrites are not.
        auto watch = FileWatch::watch(parent_of(dir), basename_of(dir));
        // Checked once the watch is set, so a removal just before is not missed.
        while (watch && !self->state_dir_replaced()) {
            auto changed = co_await watch->changed(stop);
            if (!changed && changed.error().is(Errc::cancelled)) co_return;
            if (!changed && !self->state_dir_replaced()) {
                self->note("cannot watch the state directory " + dir + ": " + changed.error().message() +
                           " (a removal of it will go unnoticed)");
                co_return;
            }
        }
        if (!watch && !self->state_dir_replaced()) {
            self->note("cannot watch the state directory " + dir + ": " + watch.error().message() +
                       " (a removal of it will go unnoticed)");
            co_return;
        }
        if (stop.stop_requested() || !self->lock_) co_return;
        auto made = self->recreate_state_dir();
        if (made) {
            retries = 0;
            continue;  // watch the new folder
        }
        // Removed or moved again while it was being recreated (a second
        // `rm -rf` or `mv` right after the first): try again on what is there now.
        if (made.error().code != LockErrc::busy && self->state_dir_replaced() && ++retries < 50) continue;
        if (made.error().code == LockErrc::busy) {
            // Another supervisor owns the new folder: leave it alone (no
            // pid, state or lock file of ours there), tell its log, and go.
            std::string line = LogWriter::timestamp(std::chrono::system_clock::now()) + " supervisor pid " +
                               std::to_string(self->lock_->info().pid) + ": state directory " + dir +
                               " was removed and " + made.error().message() +
                               " now; this one stops its services and exits\n";
            LogFile theirs(self->options_.paths.supervisor_log(), 10ull << 20, 3);
            (void)theirs.append(line);
            self->lock_->abandon();
            self->lock_.reset();
            self->note("state directory " + dir + " was removed and taken by " + made.error().message() +
                       ": stopping every service");
            self->request_shutdown(ShutdownReason::state_dir_taken);
            co_return;
        }
        self->note("warning: state directory " + dir + " was removed and cannot be created again: " +
                   made.error().message() + " (this supervisor goes on, but no command finds it: stop it with kill " +
                   std::to_string(self->lock_->info().pid) + ")");
        co_return;
    }
}

}  // namespace reins::control
