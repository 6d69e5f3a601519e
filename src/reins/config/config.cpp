// Loading a file: which format it is, its version, and the version 1 document
// ([supervisor], [defaults], [service.NAME]).
#include "reins/config/config.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "reins/config/document.hpp"
#include "reins/config/envfile.hpp"
#include "reins/config/graph.hpp"
#include "reins/config/legacy.hpp"
#include "reins/config/reader.hpp"
#include "reins/config/schema.hpp"
#include "reins/config/text.hpp"

namespace reins::config {

using namespace detail;

std::string_view to_string(Format f) noexcept {
    switch (f) {
    case Format::toml: return "toml";
    case Format::legacy: return "legacy";
    case Format::procfile: return "procfile";
    }
    return "?";
}

const supervisor::ServiceSpec* Config::find(std::string_view name) const {
    for (const auto& s : services)
        if (s.name == name) return &s;
    return nullptr;
}

Error LoadResult::error() const {
    std::string all;
    for (const auto& d : diagnostics) {
        if (!d.is_error()) continue;
        if (!all.empty()) all += "\n";
        all += format(d, FormatOptions{false, false});
    }
    return Error(Errc::config, all);
}

Result<std::string> read_text_file(const std::string& path, std::size_t max) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return fail(Error(std::error_code(errno, std::generic_category()), path));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        ::close(fd);
        return fail(Error(std::error_code(err, std::generic_category()), path + ": not a regular file"));
    }
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            return fail(Error(std::error_code(err, std::generic_category()), path));
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > max) {
            ::close(fd);
            return fail(Error(std::error_code(EFBIG, std::generic_category()), path));
        }
    }
    ::close(fd);
    return out;
}

std::string find_config(const std::string& dir) {
    for (const char* name : {"reins.toml", "Procfile"}) {
        std::string p = (std::filesystem::path(dir) / name).string();
        std::error_code ec;
        if (std::filesystem::exists(p, ec)) return p;
    }
    return {};
}

namespace {

bool is_loopback(const std::string& host) {
    if (host == "localhost" || host == "::1") return true;
    in_addr a{};
    return ::inet_pton(AF_INET, host.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

void read_supervisor(Checker& c, const Node& root, Config& cfg) {
    const Member* m = root.member("supervisor");
    if (!m) return;
    const Node* t = c.table(m->value, "supervisor", "[supervisor]");
    if (!t) return;
    auto& s = cfg.supervisor;
    if (const Member* a = t->member("allow_remote"))
        if (auto b = c.boolean(a->value, "supervisor.allow_remote")) s.allow_remote = *b;
    const Member* l = t->member("listen");
    if (!l) return;
    auto text = c.string(l->value, "supervisor.listen");
    if (!text) return;
    std::string host, port;
    if (!text->empty() && (*text)[0] == '[') {
        auto close = text->find("]:");
        if (close != std::string::npos) {
            host = text->substr(1, close - 1);
            port = text->substr(close + 2);
        }
    } else if (auto colon = text->rfind(':'); colon != std::string::npos) {
        host = text->substr(0, colon);
        port = text->substr(colon + 1);
    }
    in_addr a4{};
    in6_addr a6{};
    bool host_ok = host == "localhost" || ::inet_pton(AF_INET, host.c_str(), &a4) == 1 ||
                   ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
    bool port_ok = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos &&
                   std::stoi(port) >= 1 && std::stoi(port) <= 65535;
    if (!host_ok || !port_ok) {
        c.expected(l->value, "supervisor.listen", "an address like \"127.0.0.1:9090\" or \"[::1]:9090\"");
        return;
    }
    if (!is_loopback(host) && !s.allow_remote) {
        c.error(l->value.pos, "supervisor.listen",
                "supervisor.listen: " + host + " is not a loopback address, and allow_remote is false",
                "set allow_remote = true in [supervisor] to serve /live and /ready beyond this machine");
        return;
    }
    s.listen = *text;
    s.listen_host = host;
    s.listen_port = std::stoi(port);
}

void read_v1(Checker& c, const Node& root, const Place& place, Config& cfg) {
    check_unknown_keys(c, root, v1_schema(), "");
    read_supervisor(c, root, cfg);
    const Node* defaults = nullptr;
    if (const Member* d = root.member("defaults")) defaults = c.table(d->value, "defaults", "[defaults]");
    const Member* sm = root.member("service");
    if (!sm) {
        c.error(Pos{1, 1}, "service", "no services: the file has no [service.NAME] table",
                "add one: [service.web] with command = \"...\"");
        return;
    }
    const Node* services = c.table(sm->value, "service", "[service.NAME]");
    if (!services) return;
    std::vector<ServiceRead> read;
    read.reserve(services->members.size());
    for (const auto& m : services->members) {
        std::string path = "service." + key_text(m.key);
        if (!is_service_name(m.key)) {
            c.error(m.key_pos, path, path + ": a service name is 1-64 letters, digits, '-', '_' or '.', starting with a "
                                            "letter or digit; found " + quote(m.key));
            continue;
        }
        const Node* t = c.table(m.value, path, "[" + path + "]");
        if (!t) continue;
        std::vector<Layers::Layer> layers{{t, path, false}};
        if (defaults) layers.push_back({defaults, "defaults", true});
        read.push_back(read_service(c, m.key, Layers(std::move(layers)), t->pos, place));
    }
    if (services->members.empty())
        c.error(sm->value.pos, "service", "no services: [service] has no [service.NAME] table", "add one");
    check_graph(c, read);
    cfg.services.reserve(read.size());
    for (auto& r : read) cfg.services.push_back(std::move(r.spec));
}

Place place_of(const std::string& path, EnvFileCache* cache, Config& cfg) {
    std::error_code ec;
    auto abs = std::filesystem::absolute(path, ec).lexically_normal();
    cfg.path = abs.string();
    cfg.display_path = path;
    cfg.dir = abs.parent_path().string();
    Place p;
    p.dir = cfg.dir;
    p.display_dir = std::filesystem::path(path).parent_path().string();
    p.env_files = cache;
    return p;
}

// Excerpts come from the config alone: an env file's lines are never shown.
void finish(LoadResult& r, std::string_view text) {
    sort_unique(r.diagnostics);
    add_excerpts(r.diagnostics, r.config.display_path, text);
}

}  // namespace

LoadResult load_toml(std::string_view text, const std::string& path, const LoadOptions&) {
    LoadResult r;
    EnvFileCache cache;
    Place place = place_of(path, &cache, r.config);
    auto parsed = parse_toml(text, path);
    if (parsed.error) {
        r.diagnostics.push_back(std::move(*parsed.error));
        finish(r, text);
        return r;
    }
    const Node& root = parsed.root;
    Checker c(path, &r.diagnostics);
    bool legacy = false;
    if (const Member* v = root.member("version")) {
        auto n = c.integer(v->value, "version", 0, INT64_MAX);
        if (!n) {
            finish(r, text);
            return r;
        }
        if (*n > current_version) {
            c.error(v->value.pos, "version",
                    "version: this file needs reins config version " + std::to_string(*n) +
                        ", and this reins reads versions 0 to " + std::to_string(current_version),
                    "upgrade reins to read it");
            finish(r, text);
            return r;
        }
        r.config.version = static_cast<int>(*n);
        legacy = *n == 0;
    } else {
        r.config.version_missing = true;
        const Node* server = root.find("server");
        legacy = server && server->is_table() && !root.find("service");
        if (!legacy) {
            c.warning(Pos{}, "version", "no `version`: read as version " + std::to_string(current_version),
                      "add `version = " + std::to_string(current_version) + "` at the top of the file");
        }
    }
    if (legacy) {
        r.config.format = Format::legacy;
        r.config.version = 0;
        read_legacy(c, root, place, r.config);
    } else {
        r.config.format = Format::toml;
        if (r.config.version_missing) r.config.version = current_version;
        read_v1(c, root, place, r.config);
    }
    finish(r, text);
    return r;
}

LoadResult load_file(const std::string& path, const LoadOptions& options) {
    auto text = read_text_file(path);
    if (!text) {
        LoadResult r;
        r.config.display_path = path;
        std::string why = text.error().code.message();
        r.diagnostics.push_back(Diagnostic{Severity::error, path, 0, 0, {}, "cannot read " + path + ": " + why,
                                           text.error().code == std::errc::no_such_file_or_directory
                                               ? "create it, or name another file with -c FILE"
                                               : "",
                                           {}});
        return r;
    }
    if (std::filesystem::path(path).filename().string().rfind("Procfile", 0) == 0)
        return load_procfile(*text, path, options);
    return load_toml(*text, path, options);
}

Result<Config> load_config(const std::string& path, const LoadOptions& options) {
    auto r = load_file(path, options);
    if (!r.ok()) return fail(r.error());
    return std::move(r.config);
}

LoadResult load_procfile(std::string_view text, const std::string& path, const LoadOptions& options) {
    LoadResult r;
    EnvFileCache cache;
    Place place = place_of(path, &cache, r.config);
    r.config.format = Format::procfile;
    Checker c(path, &r.diagnostics);
    auto parsed = parse_procfile(text, path);
    for (auto& d : parsed.diagnostics) c.add(std::move(d));
    // A .env beside the Procfile is optional; one that is there must be readable.
    std::vector<std::pair<std::string, std::string>> env;
    std::string env_path = resolve_path(place.dir, ".env");
    std::error_code ec;
    if (std::filesystem::exists(env_path, ec)) {
        const auto& e = env_file(c, place, ".env");
        if (!e.ok) c.error(Pos{}, ".env", "cannot read " + env_path + ": " + e.error);
        env = e.values;
    }
    int index = 0;
    for (auto& p : parsed.entries) {
        supervisor::ServiceSpec s;
        s.name = p.name;
        s.command = supervisor::CommandSpec{p.command};
        s.cwd = place.dir;
        for (const auto& [k, v] : env) s.env[k] = v;
        int port = options.port_base + 100 * index++;
        if (port < 1 || port > 65535) {
            c.error(Pos{p.line, 1}, p.name, "process " + quote(p.name) + " would get port " + std::to_string(port) +
                                                ", outside 1-65535", "choose a lower --port-base");
        }
        s.port = supervisor::PortSpec::fixed_port(port);
        s.logs.file = "logs/" + p.name + ".log";
        r.config.services.push_back(std::move(s));
    }
    if (parsed.entries.empty() && parsed.diagnostics.empty())
        c.error(Pos{}, "", "no processes: a Procfile has `name: command` lines", "add one, e.g. web: ./server");
    finish(r, text);
    return r;
}

}  // namespace reins::config
