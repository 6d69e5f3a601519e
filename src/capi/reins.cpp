// The C ABI (reins.h) over reins::control::SupervisorThread.
//
// A reins_host* is not a pointer: it is the number of a host in a registry,
// never reused, so a closed (or made-up) handle is recognised and refused
// instead of crashing. Each call holds a shared_ptr to the host while it
// runs, so a reins_close racing it on another thread waits for no one and
// frees nothing under it. No exception leaves this file.
#include "reins.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "reins/control/status_json.hpp"
#include "reins/control/supervisor_thread.hpp"

#ifndef REINS_VERSION
#define REINS_VERSION "unknown"
#endif

using reins::control::HostEvent;
using reins::control::Outcome;
using reins::control::SupervisorThread;
using json = nlohmann::json;

namespace {

std::mutex registry_mu;
std::map<std::uintptr_t, std::shared_ptr<SupervisorThread>> registry;
std::uintptr_t next_id = 1;

char* copy(const std::string& s) {
    char* p = static_cast<char*>(std::malloc(s.size() + 1));
    if (p) std::memcpy(p, s.c_str(), s.size() + 1);
    return p;
}

int say(char** message, int code, const std::string& text) {
    if (message) *message = copy(text);
    return code;
}

std::shared_ptr<SupervisorThread> find(reins_host* h) {
    std::lock_guard lock(registry_mu);
    auto it = registry.find(reinterpret_cast<std::uintptr_t>(h));
    return it == registry.end() ? nullptr : it->second;
}

const char* const not_a_host = "not an open reins host (closed already, or never opened); open one with reins_open";

// "message" and, on its own line, "hint".
int report(char** message, const Outcome& o) {
    std::string text = o.message;
    if (o.code == 0 && text.empty())
        for (const auto& s : o.services) {
            if (!text.empty()) text += "; ";
            text += s.name + " " + std::string(reins::supervisor::to_string(s.state));
            if (s.port) text += " on port " + std::to_string(s.port);
            if (s.pid) text += " (pid " + std::to_string(s.pid) + ")";
        }
    if (!o.hint.empty()) text += "\n" + o.hint;
    if (!o.last_output.empty()) {
        text += "\nlast output of " + o.service + ":";
        for (const auto& l : o.last_output) text += "\n  " + l;
    }
    return say(message, o.code, text);
}

SupervisorThread::Timeout timeout_of(int ms) {
    if (ms < 0) return std::nullopt;
    return std::chrono::milliseconds(ms);
}

// Options JSON → Options; false (with *why) on a malformed or mistyped value.
bool read_options(const char* text, SupervisorThread::Options* o, std::string* why) {
    o->queue_events = true;
    if (!text || !*text) return true;
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        *why = "the options are not a JSON object";
        return false;
    }
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& k = it.key();
        const json& v = it.value();
        auto want = [&](bool ok, const char* type) {
            if (!ok) *why = "option \"" + k + "\" must be " + type;
            return ok;
        };
        if (k == "state_dir" || k == "lock_data") {
            if (!want(v.is_string(), "a string")) return false;
            (k == "state_dir" ? o->state_dir : o->lock_data) = v.get<std::string>();
        } else if (k == "control_socket" || k == "queue_events" || k == "output_events" || k == "keeper") {
            if (!want(v.is_boolean(), "true or false")) return false;
            bool b = v.get<bool>();
            if (k == "control_socket") o->control_socket = b;
            else if (k == "queue_events") o->queue_events = b;
            else if (k == "output_events") o->output_events = b;
            else o->keeper = b;
        } else if (k == "queue_capacity") {
            if (!want(v.is_number_unsigned() && v.get<std::uint64_t>() > 0, "a positive number")) return false;
            o->queue_capacity = v.get<std::size_t>();
        } else {
            *why = "unknown option \"" + k +
                   "\" (known: state_dir, lock_data, control_socket, queue_events, queue_capacity, output_events, keeper)";
            return false;
        }
    }
    return true;
}

json event_json(const HostEvent& e) {
    json j;
    switch (e.kind) {
        case HostEvent::Kind::transition:
            j = reins::control::event_to_json(e.transition);
            j["type"] = "transition";
            break;
        case HostEvent::Kind::output:
            j = {{"type", "output"}, {"service", e.service}, {"stream", e.stream == 2 ? "stderr" : "stdout"},
                 {"line", e.text}};
            break;
        case HostEvent::Kind::note:
            j = {{"type", "note"}, {"text", e.text}};
            break;
    }
    return j;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

reins_host* open_with(const char* options_json, char** message, const char* path, const char* toml, const char* dir) {
    SupervisorThread::Options o;
    std::string why;
    if (!read_options(options_json, &o, &why)) {
        say(message, REINS_FAILED, why);
        return nullptr;
    }
    Outcome failed;
    auto t = SupervisorThread::open(std::move(o), &failed);
    if (!t) {
        report(message, failed);
        return nullptr;
    }
    Outcome added;
    if (path) added = t->add_config_file(path);
    else if (toml) added = t->add_config_text(toml, dir ? dir : "");
    if (!added) {
        report(message, added);
        return nullptr;  // t's destructor ends the thread
    }
    std::lock_guard lock(registry_mu);
    std::uintptr_t id = next_id++;
    registry.emplace(id, std::shared_ptr<SupervisorThread>(std::move(t)));
    say(message, REINS_OK, "");
    return reinterpret_cast<reins_host*>(id);
}

template <class Fn>
int guarded(char** message, Fn fn) {
    try {
        return fn();
    } catch (const std::exception& e) {
        return say(message, REINS_FAILED, std::string("reins failed: ") + e.what());
    } catch (...) {
        return say(message, REINS_FAILED, "reins failed");
    }
}

}  // namespace

extern "C" {

reins_host* reins_open(const char* options_json, char** message) {
    try {
        return open_with(options_json, message, nullptr, nullptr, nullptr);
    } catch (...) {
        say(message, REINS_FAILED, "reins could not open a host (out of memory?)");
        return nullptr;
    }
}

reins_host* reins_open_file(const char* path, const char* options_json, char** message) {
    if (!path) {
        say(message, REINS_FAILED, "reins_open_file needs a path");
        return nullptr;
    }
    try {
        return open_with(options_json, message, path, nullptr, nullptr);
    } catch (...) {
        say(message, REINS_FAILED, "reins could not open a host (out of memory?)");
        return nullptr;
    }
}

reins_host* reins_open_text(const char* toml, const char* dir, const char* options_json, char** message) {
    if (!toml) {
        say(message, REINS_FAILED, "reins_open_text needs TOML text");
        return nullptr;
    }
    try {
        return open_with(options_json, message, nullptr, toml, dir);
    } catch (...) {
        say(message, REINS_FAILED, "reins could not open a host (out of memory?)");
        return nullptr;
    }
}

int reins_add_file(reins_host* host, const char* path, char** message) {
    return guarded(message, [&] {
        auto t = find(host);
        if (!t) return say(message, REINS_FAILED, not_a_host);
        if (!path) return say(message, REINS_FAILED, "reins_add_file needs a path");
        return report(message, t->add_config_file(path));
    });
}

int reins_add_text(reins_host* host, const char* toml, const char* dir, char** message) {
    return guarded(message, [&] {
        auto t = find(host);
        if (!t) return say(message, REINS_FAILED, not_a_host);
        if (!toml) return say(message, REINS_FAILED, "reins_add_text needs TOML text");
        return report(message, t->add_config_text(toml, dir ? dir : ""));
    });
}

int reins_start(reins_host* host, const char* name, int timeout_ms, char** message) {
    return guarded(message, [&] {
        auto t = find(host);
        if (!t) return say(message, REINS_FAILED, not_a_host);
        std::vector<std::string> names;
        if (name) names.emplace_back(name);
        return report(message, t->start(std::move(names), timeout_of(timeout_ms)));
    });
}

int reins_stop(reins_host* host, const char* name, int timeout_ms, char** message) {
    return guarded(message, [&] {
        auto t = find(host);
        if (!t) return say(message, REINS_FAILED, not_a_host);
        std::vector<std::string> names;
        if (name) names.emplace_back(name);
        return report(message, t->stop(std::move(names), timeout_of(timeout_ms)));
    });
}

int reins_restart(reins_host* host, const char* name, int timeout_ms, char** message) {
    return guarded(message, [&] {
        auto t = find(host);
        if (!t) return say(message, REINS_FAILED, not_a_host);
        if (!name) return say(message, REINS_FAILED, "reins_restart needs a service name");
        return report(message, t->restart(name, timeout_of(timeout_ms)));
    });
}

char* reins_status(reins_host* host) {
    try {
        auto t = find(host);
        if (!t) return nullptr;
        auto st = t->status();
        if (!st) return nullptr;
        json a = json::array();
        auto now = std::chrono::steady_clock::now();
        for (const auto& s : st.services) a.push_back(reins::control::status_to_json(s, now));
        return copy(dump(a));
    } catch (...) {
        return nullptr;
    }
}

int reins_event_fd(reins_host* host) {
    auto t = find(host);
    return t ? t->event_fd() : -1;
}

char* reins_events(reins_host* host) {
    try {
        auto t = find(host);
        if (!t) return nullptr;
        json a = json::array();
        for (const auto& e : t->take_events()) a.push_back(event_json(e));
        return copy(dump(a));
    } catch (...) {
        return nullptr;
    }
}

void reins_close(reins_host* host) {
    std::shared_ptr<SupervisorThread> t;
    {
        std::lock_guard lock(registry_mu);
        auto it = registry.find(reinterpret_cast<std::uintptr_t>(host));
        if (it == registry.end()) return;
        t = std::move(it->second);
        registry.erase(it);
    }
    try {
        t->shutdown();  // calls racing on other threads now get REINS_FAILED
    } catch (...) {
    }
}

void reins_free(void* p) { std::free(p); }

const char* reins_version(void) { return REINS_VERSION; }

}  // extern "C"
