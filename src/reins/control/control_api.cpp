#include "reins/control/control_api.hpp"

#include <algorithm>

#include "reins/config/service_name.hpp"
#include "reins/config/text.hpp"
#include "reins/control/status_json.hpp"
#include "reins/http/json_text.hpp"
#include "reins/supervisor/port_allocator.hpp"

namespace reins::control {

using nlohmann::json;
using supervisor::ServiceState;
using supervisor::is_active;

namespace {

/// The services a body names: {"services":["a","b"]} (absent or []: all).
Result<std::vector<std::string>> names_in(const std::string& body) {
    std::vector<std::string> names;
    if (body.empty()) return names;
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return fail(Errc::config, "the body is not a JSON object");
    auto it = j.find("services");
    if (it == j.end()) return names;
    if (!it->is_array()) return fail(Errc::config, "\"services\" must be an array of names");
    for (const auto& n : *it) {
        if (!n.is_string()) return fail(Errc::config, "\"services\" must be an array of names");
        names.push_back(n.get<std::string>());
        auto valid = config::check_service_name(names.back());
        if (!valid)
            return fail(Errc::config,
                        "\"services\"[" + std::to_string(names.size() - 1) + "]: " + valid.error().context);
    }
    return names;
}

Task<http::Response> get_status(ControlApi* api) { co_return http::Response::json(api->status()); }

Task<http::Response> bulk(ControlApi* api, ControlApi::Action action, http::Request req, std::stop_token stop) {
    auto names = names_in(req.body);
    if (!names) co_return error_reply(400, "bad_request", names.error().context);
    auto r = co_await api->act(action, std::move(*names), std::move(stop));
    co_return r;
}

Task<http::Response> one(ControlApi* api, ControlApi::Action action, http::Request req, std::stop_token stop) {
    auto valid = name_in_path(req);
    if (!valid) co_return error_reply(400, "bad_request", valid.error().context);
    std::vector<std::string> names{req.params["name"]};
    auto r = co_await api->act(action, std::move(names), std::move(stop));
    co_return r;
}

Task<http::Response> add(ControlApi* api, http::Request req) {
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) co_return error_reply(400, "bad_request", "the body is not a JSON object");
    if (!api->hooks().add_service) co_return error_reply(501, "unsupported", "this supervisor cannot add services");
    auto r = api->hooks().add_service(j);
    if (!r) co_return error_reply(400, "bad_request", r.error().context);
    json reply;
    reply["ok"] = true;
    reply["service"] = *r;
    co_return http::Response::json(reply);
}

Task<http::Response> shutdown(ControlApi* api, std::stop_token stop) {
    auto r = co_await api->supervisor().stop({}, std::move(stop));
    json reply;
    reply["ok"] = true;
    reply["services"] = json::array();
    for (const auto& s : api->supervisor().status()) reply["services"].push_back(status_to_json(s));
    if (api->hooks().shutdown) api->hooks().shutdown();
    (void)r;  // a service that was not running is not an error here
    co_return http::Response::json(reply);
}

Task<void> events(ControlApi* api, http::Request, http::ResponseStream out, std::stop_token stop) {
    auto sub = api->supervisor().events().subscribe();
    http::Headers headers{{"Content-Type", "application/x-ndjson"}};
    auto started = co_await out.start(200, std::move(headers));
    if (!started) co_return;
    // The current state first, so a client never misses what happened before it subscribed.
    for (const auto& s : api->supervisor().status()) {
        json j = status_to_json(s);
        j["snapshot"] = true;
        std::string line = http::json_text(j) + "\n";
        auto sent = co_await out.send_chunk(std::move(line));
        if (!sent) co_return;
    }
    for (;;) {
        auto e = co_await sub.next(stop);
        if (!e) co_return;
        std::string line = http::json_text(event_to_json(*e)) + "\n";
        auto sent = co_await out.send_chunk(std::move(line));
        if (!sent) co_return;
    }
}

}  // namespace

Result<void> name_in_path(const http::Request& req) {
    auto it = req.params.find("name");
    auto valid = config::check_service_name(it == req.params.end() ? std::string() : it->second);
    if (!valid) return fail(Errc::config, "the path " + config::quote_bytes(req.path) + ": " + valid.error().context);
    return {};
}

http::Response error_reply(int status, std::string kind, std::string message, std::string hint) {
    json j;
    j["ok"] = false;
    j["error"] = {{"kind", std::move(kind)}, {"message", std::move(message)}, {"hint", std::move(hint)}};
    return http::Response::json(j, status);
}

std::string error_kind(const Error& e) {
    if (e.code.category() == supervisor::port_category()) return "port_in_use";  // in use, or a range with none free
    if (e.is(Errc::timeout)) return "startup_timeout";
    if (e.is(Errc::spawn_failed)) return "spawn_failed";
    if (e.is(Errc::not_running)) return "not_running";
    if (e.is(Errc::not_found)) return "not_found";
    return "failed";
}

ControlApi::ControlApi(supervisor::Supervisor& sup, ControlInfo info, ControlHooks hooks)
    : sup_(sup), info_(std::move(info)), hooks_(std::move(hooks)) {}

json ControlApi::status() const {
    using namespace std::chrono;
    auto now = steady_clock::now();
    json j;
    j["supervisor"] = {{"pid", info_.pid},
                       {"version", info_.version},
                       {"uptime_ms", duration_cast<milliseconds>(now - info_.started).count()},
                       {"state_dir", info_.state_dir},
                       {"config", info_.config}};
    j["services"] = json::array();
    for (const auto& s : sup_.status()) {
        json one = status_to_json(s, now);
        // A full disk: the service's output waits (and so does the service).
        if (hooks_.log_stalled) {
            std::string why = hooks_.log_stalled(s.name);
            if (!why.empty()) one["logs_stalled"] = why;
        }
        j["services"].push_back(std::move(one));
    }
    return j;
}

Task<http::Response> ControlApi::act(Action action, std::vector<std::string> names, std::stop_token stop) {
    for (const auto& n : names)
        if (!sup_.find(n)) {
            std::string known;
            for (const auto& k : sup_.names()) known += (known.empty() ? "" : ", ") + k;
            co_return error_reply(404, "not_found", "no service called '" + n + "'",
                                  known.empty() ? "this supervisor has no services" : "services: " + known);
        }
    const std::vector<std::string> asked = names.empty() ? sup_.names() : names;
    json already = json::array();
    Result<void> r;
    if (action == Action::start) {
        for (const auto& n : asked)
            if (sup_.find(n)->status().state == ServiceState::running) already.push_back(n);
        r = co_await sup_.start(names, stop);
    } else if (action == Action::stop) {
        if (names.empty()) {
            r = co_await sup_.stop(names, stop);
        } else {
            // Report the first named service that was not running; stop the others.
            std::vector<std::string> live;
            std::string idle;
            for (const auto& n : names) {
                if (is_active(sup_.find(n)->status().state)) live.push_back(n);
                else if (idle.empty()) idle = n;
            }
            if (!live.empty()) r = co_await sup_.stop(live, stop);
            if (r && !idle.empty()) r = fail(Errc::not_running, idle + " is not running");
        }
    } else {
        for (const auto& n : asked) {
            r = co_await sup_.restart(n, stop);
            if (!r) break;
        }
    }
    json services = json::array();
    auto now = std::chrono::steady_clock::now();
    for (const auto& n : asked) services.push_back(status_to_json(sup_.find(n)->status(), now));
    if (r) {
        json j;
        j["ok"] = true;
        j["services"] = services;
        j["already_running"] = already;
        co_return http::Response::json(j);
    }
    std::string kind = error_kind(r.error());
    // The service the failure is about: the first asked (or needed) one that is not running.
    std::string culprit;
    std::vector<std::string> last_output;
    if (action != Action::stop) {
        // The service the failure is about: one that is not running and left
        // output behind, else the first asked for that is not running.
        for (const auto& s : sup_.status())
            if (s.state != ServiceState::running && !s.last_output.empty()) {
                culprit = s.name;
                last_output = s.last_output;
                break;
            }
        for (const auto& n : asked)
            if (culprit.empty() && sup_.find(n)->status().state != ServiceState::running) culprit = n;
    }
    json j;
    j["ok"] = false;
    j["services"] = services;
    std::string hint;
    if (kind == "port_in_use") hint = "stop the process holding the port, or give the service another port (--port auto)";
    else if (kind == "not_running") hint = "reins status shows what is running";
    else if (kind == "startup_timeout") hint = "check the service's readiness setting and its log: reins logs " + culprit;
    else hint = "see the service's log: reins logs " + culprit;
    std::string message = kind == "not_running" ? r.error().context : r.error().message();
    j["error"] = {{"kind", kind}, {"service", culprit}, {"message", message}, {"hint", hint},
                  {"last_output", last_output}};
    if (action != Action::stop && hooks_.after_failed_start) hooks_.after_failed_start();
    co_return http::Response::json(j, kind == "not_running" ? 409 : 500);
}

http::Router ControlApi::router() {
    http::Router r;
    ControlApi* self = this;
    r.add("GET", "/v1/status", [self](http::Request, std::stop_token) { return get_status(self); });
    const std::pair<const char*, Action> actions[] = {
        {"start", Action::start}, {"stop", Action::stop}, {"restart", Action::restart}};
    for (const auto& [word, action] : actions) {
        Action a = action;
        r.add("POST", std::string("/v1/services/{name}/") + word,
              [self, a](http::Request req, std::stop_token s) { return one(self, a, std::move(req), std::move(s)); });
        r.add("POST", std::string("/v1/") + word,
              [self, a](http::Request req, std::stop_token s) { return bulk(self, a, std::move(req), std::move(s)); });
    }
    r.add("POST", "/v1/services", [self](http::Request req, std::stop_token) { return add(self, std::move(req)); });
    r.add("POST", "/v1/shutdown", [self](http::Request, std::stop_token s) { return shutdown(self, std::move(s)); });
    r.add_stream("GET", "/v1/events", [self](http::Request req, http::ResponseStream out, std::stop_token s) {
        return events(self, std::move(req), std::move(out), std::move(s));
    });
    r.add_stream("GET", "/v1/logs/{name}", [self](http::Request req, http::ResponseStream out, std::stop_token s) {
        return serve_logs(self, std::move(req), std::move(out), std::move(s));
    });
    return r;
}

}  // namespace reins::control
