// Internal: the legacy single-server format of the seeds (docs/config.md,
// The legacy format), read as one service named `server`.
#pragma once

#include "reins/config/config.hpp"
#include "reins/config/document.hpp"
#include "reins/config/reader.hpp"

namespace reins::config::detail {

/// Reads a legacy document into `cfg` (one service, "server"); keys reins
/// does not use go to cfg.legacy_unused and come out as warnings.
void read_legacy(Checker& c, const Node& root, const Place& place, Config& cfg);

}  // namespace reins::config::detail
