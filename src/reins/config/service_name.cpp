#include "reins/config/service_name.hpp"

#include <cctype>
#include <string>

#include "reins/config/text.hpp"

namespace reins::config {

const std::string_view service_name_rule = "1-64 letters, digits, '-', '_' or '.', starting with a letter or digit";

bool is_service_name(std::string_view name) {
    if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
    for (char c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
    return true;
}

Result<void> check_service_name(std::string_view name) {
    if (is_service_name(name)) return {};
    return fail(Errc::config,
                "invalid service name " + quote_bytes(name) + " (a service name is " + std::string(service_name_rule) + ")");
}

}  // namespace reins::config
