#include "reins/control/service_command.hpp"

namespace reins::control {

using supervisor::ServiceState;

int CommandReport::exit_code() const noexcept {
    if (ok) return 0;
    if (kind == "not_found" || kind == "not_running") return 1;
    if (kind == "port_in_use") return 2;
    return 3;
}

std::string error_kind(const Error& e) {
    if (e.code.category() == supervisor::port_category()) return "port_in_use";  // in use, or a range with none free
    if (e.is(Errc::timeout)) return "startup_timeout";
    if (e.is(Errc::spawn_failed)) return "spawn_failed";
    if (e.is(Errc::not_running)) return "not_running";
    if (e.is(Errc::not_found)) return "not_found";
    return "failed";
}

namespace {

Task<Result<void>> carry_out(supervisor::Supervisor& sup, CommandAction action, const std::vector<std::string>& names,
                             const std::vector<std::string>& asked, std::stop_token stop) {
    if (action == CommandAction::start) {
        auto r = co_await sup.start(names, stop);
        co_return r;
    }
    if (action == CommandAction::restart) {
        for (const auto& n : asked) {
            auto r = co_await sup.restart(n, stop);
            if (!r) co_return r;
        }
        co_return Result<void>{};
    }
    if (names.empty()) {
        auto r = co_await sup.stop(names, stop);
        co_return r;
    }
    // Report the first named service that was not running; stop the others.
    std::vector<std::string> live;
    std::string idle;
    for (const auto& n : names) {
        if (is_active(sup.find(n)->status().state)) live.push_back(n);
        else if (idle.empty()) idle = n;
    }
    if (!live.empty()) {
        auto r = co_await sup.stop(live, stop);
        if (!r) co_return r;
    }
    if (!idle.empty()) co_return fail(Errc::not_running, idle + " is not running");
    co_return Result<void>{};
}

}  // namespace

Task<CommandReport> run_service_command(supervisor::Supervisor& sup, CommandAction action,
                                        std::vector<std::string> names, std::stop_token stop) {
    CommandReport rep;
    for (const auto& n : names)
        if (!sup.find(n)) {
            std::string known;
            for (const auto& k : sup.names()) known += (known.empty() ? "" : ", ") + k;
            rep.ok = false;
            rep.kind = "not_found";
            rep.message = "no service called '" + n + "'";
            rep.hint = known.empty() ? "this supervisor has no services" : "services: " + known;
            co_return rep;
        }
    rep.asked = names.empty() ? sup.names() : names;
    if (action == CommandAction::start)
        for (const auto& n : rep.asked)
            if (sup.find(n)->status().state == ServiceState::running) rep.already_running.push_back(n);
    auto r = co_await carry_out(sup, action, names, rep.asked, std::move(stop));
    if (r) co_return rep;

    rep.ok = false;
    rep.kind = error_kind(r.error());
    if (action != CommandAction::stop) {
        // The service the failure is about: one that is not running and left
        // output behind, else the first asked for that is not running.
        for (const auto& s : sup.status())
            if (s.state != ServiceState::running && !s.last_output.empty()) {
                rep.service = s.name;
                rep.last_output = s.last_output;
                break;
            }
        for (const auto& n : rep.asked)
            if (rep.service.empty() && sup.find(n)->status().state != ServiceState::running) rep.service = n;
    }
    if (rep.kind == "port_in_use") rep.hint = "stop the process holding the port, or give the service another port (--port auto)";
    else if (rep.kind == "not_running") rep.hint = "reins status shows what is running";
    else if (rep.kind == "startup_timeout") rep.hint = "check the service's readiness setting and its log: reins logs " + rep.service;
    else rep.hint = "see the service's log: reins logs " + rep.service;
    rep.message = rep.kind == "not_running" ? r.error().context : r.error().message();
    co_return rep;
}

}  // namespace reins::control
