#include "reins/control/control_api.hpp"

#include <algorithm>

#include "reins/config/service_flags.hpp"
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

/// A body's field name as it may be shown (quoted, bounded, bad bytes escaped).
std::string field(std::string_view name) { return config::quote_bytes(name, 40); }

/// Nothing when every key of the object `j` is one of `known`; else the
/// error naming the first other one.
Result<void> only_known_fields(const json& j, std::initializer_list<std::string_view> known) {
    for (const auto& [k, v] : j.items()) {
        if (std::find(known.begin(), known.end(), k) != known.end()) continue;
        std::string expected;
        for (auto n : known) expected += (expected.empty() ? "" : ", ") + std::string(n);
        return fail(Errc::config, "unknown field " + field(k) + " (expected: " + expected + ")");
    }
    return {};
}

/// Nothing when `v` is an array of strings without NUL bytes; else the
/// error naming `what` (and the element).
Result<void> strings_in(const json& v, const std::string& what) {
    if (!v.is_array()) return fail(Errc::config, what + " must be an array of strings, not " + v.type_name());
    for (std::size_t i = 0; i < v.size(); ++i) {
        std::string at = what + "[" + std::to_string(i) + "]";
        if (!v[i].is_string()) return fail(Errc::config, at + " must be a string, not " + v[i].type_name());
        if (v[i].get_ref<const std::string&>().find('\0') != std::string::npos)
            return fail(Errc::config, at + " contains a NUL character");
    }
    return {};
}

/// The services a body names: {"services":["a","b"]} (absent or []: all),
/// each once, in the order first named.
Result<std::vector<std::string>> names_in(const std::string& body) {
    std::vector<std::string> names;
    if (body.empty()) return names;
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return fail(Errc::config, "the body is not a JSON object");
    if (auto known = only_known_fields(j, {"services"}); !known) return fail(std::move(known).error());
    auto it = j.find("services");
    if (it == j.end()) return names;
    if (auto valid = strings_in(*it, "\"services\""); !valid) return fail(std::move(valid).error());
    std::set<std::string_view> seen;
    for (std::size_t i = 0; i < it->size(); ++i) {
        const auto& n = (*it)[i].get_ref<const std::string&>();
        auto valid = config::check_service_name(n);
        if (!valid) return fail(Errc::config, "\"services\"[" + std::to_string(i) + "]: " + valid.error().context);
        if (seen.insert(n).second) names.push_back(n);
    }
    return names;
}

/// Nothing when a POST /v1/services body has the right fields of the right
/// types: {"command":[strings],"flags":{FLAG:[strings]},"cwd":string}.
Result<void> check_add_body(const json& j) {
    if (!j.is_object()) return fail(Errc::config, "the body is not a JSON object");
    if (auto known = only_known_fields(j, {"command", "flags", "cwd"}); !known) return known;
    auto cmd = j.find("command");
    if (cmd == j.end()) return fail(Errc::config, "\"command\" is missing (a non-empty array of strings)");
    if (auto valid = strings_in(*cmd, "\"command\""); !valid) return valid;
    if (cmd->empty() || cmd->front().get_ref<const std::string&>().empty())
        return fail(Errc::config, "\"command\" must be a non-empty array of strings, the program first");
    if (auto f = j.find("flags"); f != j.end()) {
        if (!f->is_object())
            return fail(Errc::config, std::string("\"flags\" must be an object of arrays of strings, not ") + f->type_name());
        const auto& names = config::service_flag_names();
        for (const auto& [k, v] : f->items()) {
            if (std::find(names.begin(), names.end(), k) == names.end())
                return fail(Errc::config, "unknown flag " + field(k) + " in \"flags\" (see: reins start --help)");
            if (auto valid = strings_in(v, "\"flags\"." + k); !valid) return valid;
        }
    }
    if (auto c = j.find("cwd"); c != j.end()) {
        if (!c->is_string()) return fail(Errc::config, std::string("\"cwd\" must be a string (a directory), not ") + c->type_name());
        if (c->get_ref<const std::string&>().find('\0') != std::string::npos)
            return fail(Errc::config, "\"cwd\" contains a NUL character");
    }
    return {};
}

http::Response shutting_down_reply() {
    return error_reply(503, "shutting_down", "the supervisor is shutting down",
                       "wait until it has exited, then run the command again");
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

Task<http::Response> add_route(ControlApi* api, http::Request req) {
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) co_return error_reply(400, "bad_request", "the body is not a JSON object");
    co_return api->add(j);
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

bool ControlApi::idle_for(std::chrono::milliseconds quiet) const {
    return in_flight_ == 0 && unstarted_.empty() && std::chrono::steady_clock::now() - last_request_ >= quiet;
}

http::Response ControlApi::add(const json& body) {
    if (auto valid = check_add_body(body); !valid) return error_reply(400, "bad_request", valid.error().context);
    if (!hooks_.add_service) return error_reply(501, "unsupported", "this supervisor cannot add services");
    if (hooks_.closing && hooks_.closing()) return shutting_down_reply();
    auto r = hooks_.add_service(body);
    if (!r) return error_reply(400, "bad_request", r.error().context);
    // Until a start names it, the service counts as a start in flight: a
    // failed start of another service does not make the daemon leave.
    if (sup_.find(*r) && !is_active(sup_.find(*r)->status().state)) unstarted_.insert(*r);
    json reply;
    reply["ok"] = true;
    reply["service"] = *r;
    return http::Response::json(reply);
}

Task<http::Response> ControlApi::act(Action action, std::vector<std::string> names, std::stop_token stop) {
    struct InFlight {
        ControlApi* api;
        explicit InFlight(ControlApi* a) : api(a) { ++api->in_flight_; }
        ~InFlight() {
            --api->in_flight_;
            api->last_request_ = std::chrono::steady_clock::now();
        }
    } in_flight(this);
    bool known = true;
    for (const auto& n : names) known = known && sup_.find(n) != nullptr;
    if (known && action != Action::stop && hooks_.closing && hooks_.closing()) co_return shutting_down_reply();
    if (known && action != Action::stop)
        for (const auto& n : names.empty() ? sup_.names() : names) unstarted_.erase(n);
    auto what = action == Action::start ? CommandAction::start
                : action == Action::stop ? CommandAction::stop
                                         : CommandAction::restart;
    CommandReport rep = co_await run_service_command(sup_, what, std::move(names), std::move(stop));
    if (!rep.ok && rep.kind == "not_found") co_return error_reply(404, rep.kind, rep.message, rep.hint);
    json services = json::array();
    auto now = std::chrono::steady_clock::now();
    for (const auto& n : rep.asked) services.push_back(status_to_json(sup_.find(n)->status(), now));
    json j;
    j["ok"] = rep.ok;
    j["services"] = services;
    if (rep.ok) {
        j["already_running"] = rep.already_running;
        co_return http::Response::json(j);
    }
    j["error"] = {{"kind", rep.kind}, {"service", rep.service}, {"message", rep.message}, {"hint", rep.hint},
                  {"last_output", rep.last_output}};
    // The host may leave after a failed start only when this was the last
    // request in flight: the others deserve their own answers.
    if (action != Action::stop && hooks_.after_failed_start && in_flight_ == 1 && unstarted_.empty())
        hooks_.after_failed_start();
    co_return http::Response::json(j, rep.kind == "not_running" ? 409 : 500);
}

http::Router ControlApi::router() {
    http::Router r;
    ControlApi* self = this;
    // Every request counts as activity (see idle_for).
    auto seen = [self] {
        self->last_request_ = std::chrono::steady_clock::now();
        if (self->hooks_.on_request) self->hooks_.on_request();
    };
    r.add("GET", "/v1/status", [self, seen](http::Request, std::stop_token) {
        seen();
        return get_status(self);
    });
    const std::pair<const char*, Action> actions[] = {
        {"start", Action::start}, {"stop", Action::stop}, {"restart", Action::restart}};
    for (const auto& [word, action] : actions) {
        Action a = action;
        r.add("POST", std::string("/v1/services/{name}/") + word, [self, a, seen](http::Request req, std::stop_token s) {
            seen();
            return one(self, a, std::move(req), std::move(s));
        });
        r.add("POST", std::string("/v1/") + word, [self, a, seen](http::Request req, std::stop_token s) {
            seen();
            return bulk(self, a, std::move(req), std::move(s));
        });
    }
    r.add("POST", "/v1/services", [self, seen](http::Request req, std::stop_token) {
        seen();
        return add_route(self, std::move(req));
    });
    r.add("POST", "/v1/shutdown", [self, seen](http::Request, std::stop_token s) {
        seen();
        return shutdown(self, std::move(s));
    });
    r.add_stream("GET", "/v1/events", [self, seen](http::Request req, http::ResponseStream out, std::stop_token s) {
        seen();
        return events(self, std::move(req), std::move(out), std::move(s));
    });
    r.add_stream("GET", "/v1/logs/{name}", [self, seen](http::Request req, http::ResponseStream out, std::stop_token s) {
        seen();
        return serve_logs(self, std::move(req), std::move(out), std::move(s));
    });
    return r;
}

}  // namespace reins::control
