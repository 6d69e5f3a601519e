#include "reins/supervisor/notify_message.hpp"

#include <charconv>

namespace reins::supervisor {

std::optional<NotifyMessage> parse_notify_message(std::string_view data) {
    if (data.find('\0') != std::string_view::npos) return std::nullopt;
    NotifyMessage m;
    while (!data.empty()) {
        auto nl = data.find('\n');
        std::string_view line = data.substr(0, nl);
        data = nl == std::string_view::npos ? std::string_view() : data.substr(nl + 1);
        auto eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        std::string_view key = line.substr(0, eq);
        std::string_view value = line.substr(eq + 1);
        if (key == "READY") {
            m.ready = value == "1";
        } else if (key == "STOPPING") {
            m.stopping = value == "1";
        } else if (key == "STATUS") {
            m.status = std::string(value);
        } else if (key == "WATCHDOG") {
            if (value == "1") m.watchdog = true;
            else if (value == "trigger") m.watchdog_trigger = true;
        } else if (key == "BARRIER") {
            m.barrier = value == "1";
        } else if (key == "MAINPID") {
            pid_t pid = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), pid);
            // pid 1 is init: never a service's main process, never signalled.
            if (ec == std::errc() && end == value.data() + value.size() && pid > 1) {
                m.main_pid = pid;
                m.bad_main_pid = false;
            } else {
                m.main_pid.reset();
                m.bad_main_pid = true;
            }
        }
    }
    return m;
}

}  // namespace reins::supervisor
