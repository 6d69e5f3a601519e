#include "reins/async/result.hpp"

#include <uv.h>

#include "reins/async/fd_limit.hpp"

namespace reins {
namespace {

class ReinsCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "reins"; }
    std::string message(int ev) const override {
        switch (static_cast<Errc>(ev)) {
        case Errc::cancelled: return "cancelled";
        case Errc::timeout: return "timed out";
        case Errc::channel_closed: return "channel closed";
        case Errc::deadlock: return "deadlock: no task can be woken";
        case Errc::config: return "invalid configuration";
        case Errc::probe_failed: return "probe failed";
        case Errc::spawn_failed: return "spawn failed";
        case Errc::end_of_stream: return "end of stream";
        case Errc::exited: return "process has already exited";
        case Errc::not_found: return "not found";
        case Errc::not_running: return "not running";
        }
        return "unknown reins error " + std::to_string(ev);
    }
};

class LibuvCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "libuv"; }
    std::string message(int ev) const override {
        // uv_strerror knows only negative codes; say the name too (ECONNREFUSED).
        return std::string(uv_strerror(ev)) + " (" + uv_err_name(ev) + ")";
    }
};

}  // namespace

const std::error_category& reins_category() noexcept {
    static const ReinsCategory c;
    return c;
}

const std::error_category& libuv_category() noexcept {
    static const LibuvCategory c;
    return c;
}

std::string Error::message() const {
    std::string m = code.message();
    // Out of descriptors: say which limit and what to do, wherever it happened.
    if (code.category() == libuv_category()) {
        std::string hint = open_file_limit_hint(code.value());
        if (!hint.empty()) m += "; " + hint;
    }
    return context.empty() ? m : context + ": " + m;
}

Error uv_error(int status, std::string context) {
    return Error(std::error_code(status, libuv_category()), std::move(context));
}

}  // namespace reins
