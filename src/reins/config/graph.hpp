// Internal: dependency checks across the services of a file.
#pragma once

#include <vector>

#include "reins/config/reader.hpp"

namespace reins::config::detail {

/// Reports depends_on entries naming unknown services (with the closest
/// name) and every dependency cycle, named in full: "web → api → web".
void check_graph(Checker& c, const std::vector<ServiceRead>& services);

}  // namespace reins::config::detail
