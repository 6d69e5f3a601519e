#include "reins/control/control_client.hpp"

#include <uv.h>

#include "reins/http/client.hpp"
#include "reins/http/json_text.hpp"

namespace reins::control {

bool is_not_running(const Error& e) {
    return e.code.category() == libuv_category() &&
           (e.code.value() == UV_ENOENT || e.code.value() == UV_ECONNREFUSED || e.code.value() == UV_ENOTDIR ||
            e.code.value() == UV_ECONNRESET || e.code.value() == UV_EPIPE);
}

Task<Result<ControlReply>> control_request(StatePaths paths, std::string method, std::string path,
                                           nlohmann::json body, std::chrono::milliseconds timeout,
                                           std::stop_token stop) {
    http::RequestOptions options;
    options.timeout = timeout;
    options.max_body = 16u << 20;
    if (!body.is_null()) {
        options.body = http::json_text(body);
        options.headers.push_back(http::Header{"Content-Type", "application/json"});
    }
    http::Target target = http::Target::unix_socket(paths.sock());
    auto r = co_await http::request(std::move(target), std::move(method), std::move(path), std::move(options),
                                    std::move(stop));
    if (!r) co_return fail(std::move(r).error());
    ControlReply reply;
    reply.status = r->status;
    reply.body = nlohmann::json::parse(r->body, nullptr, false);
    if (reply.body.is_discarded()) reply.body = nullptr;
    co_return reply;
}

}  // namespace reins::control
