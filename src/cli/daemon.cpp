// reins __daemon (hidden): the supervisor behind `reins start`. Spawned by
// start.cpp in a new session with stdio on logs/reins.log; it tells its
// starter on --ready-fd whether it holds the state directory:
//   "ok\n" | "busy PID\n" (another supervisor won) | "error MESSAGE\n".
#include <unistd.h>

#include <cstring>

#include "cli/hosting.hpp"
#include "reins/async/loop.hpp"
#include "reins/control/supervisor_lock.hpp"

namespace reins::cli {

namespace {
void tell(int fd, const std::string& text) {
    if (fd < 0) return;
    std::string line = text + "\n";
    (void)!::write(fd, line.data(), line.size());
    ::close(fd);
}
}  // namespace

int run_daemon(const Args& args, Output& out) {
    int ready_fd = -1;
    if (args.has("ready-fd")) ready_fd = std::atoi(args.get("ready-fd").c_str());
    auto place = find_place(args, out, false);
    if (!place) {
        tell(ready_fd, "error cannot find the state directory");
        return exit_failure;
    }
    int code = exit_failure;
    auto h = hosting(args, *place, out, &code);
    if (!h) {
        tell(ready_fd, "error the config is not valid (see reins check)");
        return code;
    }
    h->options.exit_when_idle_after_failure = true;
    Loop loop;
    {
        control::SupervisorHost host(std::move(h->options));
        control::LockInfo holder;
        auto opened = host.open(&holder);
        if (!opened) {
            const Error& e = opened.error();
            if (e.code == control::LockErrc::busy) {
                tell(ready_fd, "busy " + std::to_string(holder.pid));
            } else {
                tell(ready_fd, "error " + e.message());
            }
            out.error(e.message());
            return exit_failure;
        }
        tell(ready_fd, "ok");
        loop.run(host.run({}));
    }
    (void)loop.close();
    return exit_ok;
}

}  // namespace reins::cli
