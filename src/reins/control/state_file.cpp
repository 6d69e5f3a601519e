#include "reins/control/state_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <limits>

#include "reins/control/log_file.hpp"
#include "reins/http/json_text.hpp"

namespace reins::control {
namespace {

using nlohmann::json;

Error sys_error(int err, std::string what) { return Error(std::error_code(err, std::generic_category()), std::move(what)); }

Error bad_field(const std::string& where, const char* expected) {
    return Error(std::make_error_code(std::errc::bad_message), "field " + where + ": expected " + expected);
}

// Reads `obj[key]` into `out` when present and not null; a value of another
// type is an error naming `where.key`.
Result<void> read_field(const json& obj, const char* key, std::string& out, const std::string& where) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return {};
    if (!it->is_string()) return fail(bad_field(where + key, "a string"));
    out = it->get<std::string>();
    return {};
}

Result<void> read_field(const json& obj, const char* key, int& out, const std::string& where) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return {};
    if (!it->is_number_integer()) return fail(bad_field(where + key, "an integer"));
    auto v = it->get<int64_t>();
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
        return fail(bad_field(where + key, "an integer of 32 bits"));
    out = static_cast<int>(v);
    return {};
}

Result<void> read_field(const json& obj, const char* key, uint64_t& out, const std::string& where) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return {};
    if (!it->is_number_unsigned()) return fail(bad_field(where + key, "a non-negative integer"));
    out = it->get<uint64_t>();
    return {};
}

json to_json(const ServiceRecord& r) {
    return json{{"name", r.name},         {"state", r.state},   {"health", r.health},
                {"pid", r.pid},           {"pid_start_time", r.pid_start_time},
                {"port", r.port},         {"restarts", r.restarts},
                {"instance", r.instance}, {"since", r.since},   {"last_exit", r.last_exit},
                {"status_text", r.status_text}};
}

Result<ServiceRecord> record_from_json(const json& j, const std::string& where) {
    if (!j.is_object()) return fail(bad_field(where.substr(0, where.size() - 1), "an object"));
    ServiceRecord r;
    for (auto res : {read_field(j, "name", r.name, where), read_field(j, "state", r.state, where),
                     read_field(j, "health", r.health, where), read_field(j, "pid", r.pid, where),
                     read_field(j, "pid_start_time", r.pid_start_time, where), read_field(j, "port", r.port, where),
                     read_field(j, "restarts", r.restarts, where), read_field(j, "instance", r.instance, where),
                     read_field(j, "since", r.since, where), read_field(j, "last_exit", r.last_exit, where),
                     read_field(j, "status_text", r.status_text, where)})
        if (!res) return fail(std::move(res).error());
    return r;
}

// The whole file, or an errno.
int read_whole(const std::string& path, std::string& out) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            return err;
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return 0;
}

}  // namespace

Result<void> write_file_atomic(const std::string& path, std::string_view text, unsigned mode) {
    // The temp file sits beside `path` (rename is atomic only within one
    // file system); pid + counter keep concurrent writers apart.
    static std::atomic<unsigned> counter{0};
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    std::string tmp = dir + "." + base + "." + std::to_string(::getpid()) + "." + std::to_string(++counter) + ".tmp";

    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
    if (fd < 0) return fail(sys_error(errno, "write " + path + ": create " + tmp));
    auto give_up = [&](int err, const std::string& what) {
        ::close(fd);
        ::unlink(tmp.c_str());
        return fail(sys_error(err, "write " + path + ": " + what));
    };
    // The umask may have taken bits away from `mode`: set it exactly.
    if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) return give_up(errno, "chmod " + tmp);
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return give_up(errno, "write " + tmp);
        done += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return fail(sys_error(err, "write " + path + ": close " + tmp));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return fail(sys_error(err, "write " + path + ": rename " + tmp));
    }
    return {};
}

Result<void> write_pid_file(const StatePaths& paths, const std::string& service, int pid) {
    auto made = make_dirs(paths.pids(), 0700);
    if (!made) return made;
    return write_file_atomic(paths.pid_file(service), std::to_string(pid) + "\n", 0600);
}

void remove_pid_file(const StatePaths& paths, const std::string& service) {
    ::unlink(paths.pid_file(service).c_str());  // ENOENT or otherwise: nothing to do about it
}

json to_json(const LockInfo& info) {
    json j{{"pid", info.pid},
           {"start_time", info.start_time},
           {"started_at", info.started_at},
           {"version", info.version}};
    if (!info.data.empty()) j["data"] = info.data;
    return j;
}

Result<LockInfo> lock_info_from_json(const json& j) {
    if (!j.is_object()) return fail(bad_field("(top)", "an object"));
    LockInfo info;
    for (auto res : {read_field(j, "pid", info.pid, ""), read_field(j, "start_time", info.start_time, ""),
                     read_field(j, "started_at", info.started_at, ""), read_field(j, "version", info.version, ""),
                     read_field(j, "data", info.data, "")})
        if (!res) return fail(std::move(res).error());
    return info;
}

json to_json(const StateSnapshot& snap) {
    json services = json::array();
    for (const auto& r : snap.services) services.push_back(to_json(r));
    return json{{"version", state_file_version},
                {"supervisor", to_json(snap.supervisor)},
                {"config", snap.config},
                {"services", std::move(services)}};
}

Result<StateSnapshot> state_from_json(const json& j) {
    if (!j.is_object()) return fail(bad_field("(top)", "an object"));
    StateSnapshot snap;
    if (auto it = j.find("supervisor"); it != j.end() && !it->is_null()) {
        if (!it->is_object()) return fail(bad_field("supervisor", "an object"));
        LockInfo& s = snap.supervisor;
        for (auto res : {read_field(*it, "pid", s.pid, "supervisor."),
                         read_field(*it, "start_time", s.start_time, "supervisor."),
                         read_field(*it, "started_at", s.started_at, "supervisor."),
                         read_field(*it, "version", s.version, "supervisor."),
                         read_field(*it, "data", s.data, "supervisor.")})
            if (!res) return fail(std::move(res).error());
    }
    if (auto res = read_field(j, "config", snap.config, ""); !res) return fail(std::move(res).error());
    if (auto it = j.find("services"); it != j.end() && !it->is_null()) {
        if (!it->is_array()) return fail(bad_field("services", "an array"));
        for (std::size_t i = 0; i < it->size(); ++i) {
            auto r = record_from_json((*it)[i], "services[" + std::to_string(i) + "].");
            if (!r) return fail(std::move(r).error());
            snap.services.push_back(std::move(*r));
        }
    }
    return snap;
}

Result<void> write_state(const StatePaths& paths, const StateSnapshot& snap) {
    return write_file_atomic(paths.state(), http::json_text(to_json(snap), 2) + "\n", 0600);
}

Result<StateSnapshot> read_state(const StatePaths& paths) {
    const std::string path = paths.state();
    std::string text;
    if (int err = read_whole(path, text); err != 0) return fail(sys_error(err, "read " + path));
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded())
        return fail(Error(std::make_error_code(std::errc::bad_message),
                          "read " + path + ": not valid JSON (remove the file if no supervisor is running)"));
    auto snap = state_from_json(j);
    if (!snap) {
        Error e = std::move(snap).error();
        e.context = "read " + path + ": " + e.context;
        return fail(std::move(e));
    }
    return snap;
}

}  // namespace reins::control
