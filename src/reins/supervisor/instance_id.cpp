#include "reins/supervisor/instance_id.hpp"

#include <unistd.h>

namespace reins::supervisor {

std::string supervisor_tag(pid_t pid, uint64_t start_time) {
    return "." + std::to_string(pid) + "." + std::to_string(start_time) + ".";
}

const std::string& own_supervisor_tag() {
    static const std::string tag = [] {
        auto st = process_start_time(::getpid());
        return supervisor_tag(::getpid(), st ? *st : 0);
    }();
    return tag;
}

std::string new_instance_id(std::string_view service) {
    static uint64_t counter = 0;
    return std::string(service) + own_supervisor_tag() + std::to_string(++counter);
}

}  // namespace reins::supervisor
