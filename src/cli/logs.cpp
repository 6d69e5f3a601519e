// PLACEHOLDER until the logs helper delivers (overwrite freely).
#include "cli/cli.hpp"
namespace reins::cli {
int run_logs(const Args&, Output& out) { out.error("not yet"); return exit_failure; }
}  // namespace reins::cli
