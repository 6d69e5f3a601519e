// GET /v1/logs/NAME?n=100&follow=1: the last n lines of a service's log as
// stored, then (with follow=1) every new line, across rotations, as a
// chunked stream until the client leaves or the supervisor stops.
#include "reins/control/control_api.hpp"
#include "reins/control/log_reader.hpp"

namespace reins::control {

namespace {

/// n: 0-1000000 (default 100).
std::optional<std::size_t> lines_wanted(const http::Request& req) {
    auto it = req.query.find("n");
    if (it == req.query.end()) return 100;
    const std::string& v = it->second;
    if (v.empty() || v.size() > 7 || v.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return static_cast<std::size_t>(std::stoul(v));
}

std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out.append(l).append("\n");
    return out;
}

}  // namespace

Task<void> serve_logs(ControlApi* api, http::Request req, http::ResponseStream out, std::stop_token stop) {
    if (auto valid = name_in_path(req); !valid) {
        auto r = co_await out.respond(error_reply(400, "bad_request", valid.error().context));
        (void)r;
        co_return;
    }
    const std::string name = req.params["name"];
    if (!api->supervisor().find(name)) {
        auto r = co_await out.respond(error_reply(404, "not_found", "no service called '" + name + "'"));
        (void)r;
        co_return;
    }
    auto n = lines_wanted(req);
    if (!n) {
        auto r = co_await out.respond(error_reply(400, "bad_request", "n must be a whole number up to 1000000"));
        (void)r;
        co_return;
    }
    LogTarget target = api->hooks().log_of(name);
    const bool follow = req.query.count("follow") && req.query["follow"] != "0";
    // Open the follower first and tail up to where it starts: no line is
    // lost or printed twice between the two.
    std::optional<LogFollower> follower;
    if (follow) {
        auto f = LogFollower::open(target.path);
        if (!f) {
            auto r = co_await out.respond(error_reply(500, "failed", f.error().message()));
            (void)r;
            co_return;
        }
        follower.emplace(std::move(*f));
    }
    auto tail = follower ? tail_lines(target.path, target.keep, *n, follower->start())
                         : tail_lines(target.path, target.keep, *n);
    if (!tail) {
        auto r = co_await out.respond(error_reply(500, "failed", tail.error().message()));
        (void)r;
        co_return;
    }
    http::Headers headers{{"Content-Type", "text/plain; charset=utf-8"}};
    if (!follow) {
        http::Response whole;
        whole.headers = std::move(headers);
        whole.body = joined(*tail);
        auto r = co_await out.respond(std::move(whole));
        (void)r;
        co_return;
    }
    auto started = co_await out.start(200, std::move(headers));
    if (!started) co_return;
    if (!tail->empty()) {
        auto sent = co_await out.send_chunk(joined(*tail));
        if (!sent) co_return;
    }
    for (;;) {
        auto lines = co_await follower->next(stop);
        if (!lines) co_return;
        if (lines->empty()) continue;
        auto sent = co_await out.send_chunk(joined(*lines));
        if (!sent) co_return;
    }
}

}  // namespace reins::control
