#include "reins/http/json_text.hpp"

namespace reins::http {

std::string json_text(const nlohmann::json& j, int indent) {
    return j.dump(indent, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

}  // namespace reins::http
