#include "reins/supervisor/service_state.hpp"

#include <cstring>

namespace reins::supervisor {

std::string_view to_string(ServiceState s) noexcept {
    switch (s) {
    case ServiceState::stopped: return "stopped";
    case ServiceState::starting: return "starting";
    case ServiceState::running: return "running";
    case ServiceState::stopping: return "stopping";
    case ServiceState::restarting: return "restarting";
    case ServiceState::failed: return "failed";
    }
    return "?";
}

std::string_view to_string(Health h) noexcept {
    switch (h) {
    case Health::unknown: return "unknown";
    case Health::healthy: return "healthy";
    case Health::unhealthy: return "unhealthy";
    }
    return "?";
}

std::string_view to_string(StopStep s) noexcept {
    switch (s) {
    case StopStep::none: return "none";
    case StopStep::exited_by_itself: return "exited";
    case StopStep::http: return "http";
    case StopStep::signal: return "signal";
    case StopStep::kill: return "kill";
    }
    return "?";
}

std::string LastExit::describe() const {
    if (signal == 0) return "exit " + std::to_string(code);
    const char* abbrev = sigabbrev_np(signal);
    return "signal " + std::to_string(signal) + (abbrev ? std::string(" (SIG") + abbrev + ")" : std::string());
}

}  // namespace reins::supervisor
