#include "reins/async/fd_limit.hpp"

#include <sys/resource.h>

#include <cerrno>

#include <uv.h>

namespace reins {
namespace {

std::string limit_number(rlim_t v) { return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v); }

}  // namespace

std::string open_file_limit_text() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return "RLIMIT_NOFILE (unreadable)";
    return "RLIMIT_NOFILE " + limit_number(rl.rlim_cur) + " (soft), hard " + limit_number(rl.rlim_max);
}

std::string open_file_limit_hint(int uv_status) {
    if (uv_status == UV_EMFILE)
        return "reins is at its open-file limit, " + open_file_limit_text() +
               ": raise it (ulimit -n) or run fewer services";
    if (uv_status == UV_ENFILE)
        return "the system's open-file table is full (fs.file-max): close programs or raise fs.file-max";
    return {};
}

Result<void> raise_open_file_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return fail(uv_error(-errno, "getrlimit RLIMIT_NOFILE"));
    if (rl.rlim_cur == rl.rlim_max) return {};
    rl.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return fail(uv_error(-errno, "setrlimit RLIMIT_NOFILE"));
    return {};
}

}  // namespace reins
