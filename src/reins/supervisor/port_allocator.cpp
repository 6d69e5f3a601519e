#include "reins/supervisor/port_allocator.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "reins/supervisor/process_command.hpp"

namespace reins::supervisor {
namespace {

class PortCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "reins.port"; }
    std::string message(int ev) const override {
        switch (static_cast<PortErrc>(ev)) {
        case PortErrc::in_use: return "address already in use";
        case PortErrc::none_free: return "no free port";
        }
        return "unknown port error " + std::to_string(ev);
    }
};

// ---- addresses and binding ---------------------------------------------

struct Addr {
    sockaddr_storage ss{};
    socklen_t len = 0;
    bool optional = false;  // skipped where the kernel lacks the family (::1 of "localhost")
};

Addr v4(const char* text) {
    Addr a;
    auto* sin = reinterpret_cast<sockaddr_in*>(&a.ss);
    sin->sin_family = AF_INET;
    ::inet_pton(AF_INET, text, &sin->sin_addr);
    a.len = sizeof(sockaddr_in);
    return a;
}

Addr v6(const char* text, bool optional = false) {
    Addr a;
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
    sin6->sin6_family = AF_INET6;
    ::inet_pton(AF_INET6, text, &sin6->sin6_addr);
    a.len = sizeof(sockaddr_in6);
    a.optional = optional;
    return a;
}

void set_port(Addr& a, int port) {
    if (a.ss.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&a.ss)->sin_port = htons(port);
    else reinterpret_cast<sockaddr_in6*>(&a.ss)->sin6_port = htons(port);
}

// "127.0.0.1:80", "[::1]:80".
std::string addr_text(const Addr& a, int port) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (a.ss.ss_family == AF_INET) {
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a.ss)->sin_addr, buf, sizeof buf);
        return std::string(buf) + ":" + std::to_string(port);
    }
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&a.ss)->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(port);
}

// Every address a service told `host` may bind (see the header).
Result<std::vector<Addr>> resolve(std::string_view host_in) {
    std::string host(host_in.empty() ? std::string_view("127.0.0.1") : host_in);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host == "localhost") return std::vector<Addr>{v4("127.0.0.1"), v6("::1", true)};
    if (host == "::1") return std::vector<Addr>{v4("127.0.0.1"), v6("::1")};
    Addr a;
    if (::inet_pton(AF_INET, host.c_str(), &reinterpret_cast<sockaddr_in*>(&a.ss)->sin_addr) == 1) {
        return std::vector<Addr>{v4(host.c_str())};
    }
    if (::inet_pton(AF_INET6, host.c_str(), &reinterpret_cast<sockaddr_in6*>(&a.ss)->sin6_addr) == 1) {
        return std::vector<Addr>{v6(host.c_str())};
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0) return fail(Errc::config, "resolve host \"" + host + "\": " + ::gai_strerror(rc));
    std::vector<Addr> out;
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        Addr x;
        std::memcpy(&x.ss, ai->ai_addr, ai->ai_addrlen);
        x.len = static_cast<socklen_t>(ai->ai_addrlen);
        bool dup = std::any_of(out.begin(), out.end(), [&](const Addr& y) {
            return y.len == x.len && std::memcmp(&y.ss, &x.ss, x.len) == 0;
        });
        if (!dup) out.push_back(x);
    }
    ::freeaddrinfo(res);
    if (out.empty()) return fail(Errc::config, "resolve host \"" + host + "\": no IPv4 or IPv6 address");
    return out;
}

// Binds `a` at `port` like a server would and closes the socket again.
// 0 on success, else the errno. With port 0, *assigned gets the kernel's pick.
int try_bind(Addr a, int port, bool reuse, int* assigned = nullptr) {
    int fd = ::socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    int one = 1;
    if (reuse) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    set_port(a, port);
    int err = 0;
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len) != 0) {
        err = errno;
    } else if (assigned) {
        sockaddr_storage got{};
        socklen_t len = sizeof got;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&got), &len);
        *assigned = ntohs(got.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&got)->sin_port
                                                   : reinterpret_cast<sockaddr_in6*>(&got)->sin6_port);
    }
    ::close(fd);
    return err;
}

bool family_missing(int err) { return err == EAFNOSUPPORT || err == EADDRNOTAVAIL; }

// The first address at which `port` cannot be bound (errno, index), or {0, -1}.
std::pair<int, int> check_all(const std::vector<Addr>& addrs, int port) {
    for (std::size_t i = 0; i < addrs.size(); ++i) {
        int err = try_bind(addrs[i], port, true);
        if (err == 0 || (addrs[i].optional && family_missing(err))) continue;
        return {err, static_cast<int>(i)};
    }
    return {0, -1};
}

Error bind_error(int err, const Addr& a, int port) {
    return Error(std::error_code(err, std::generic_category()), "bind " + addr_text(a, port));
}

// ---- holders --------------------------------------------------------------

// Inodes of the sockets bound to `port` in /proc/net/tcp and tcp6: the
// listening ones if any, else every other with an inode (TIME_WAIT has none).
std::vector<unsigned long> socket_inodes(int port) {
    std::vector<unsigned long> listening, other;
    for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(path);
        std::string line;
        std::getline(in, line);  // header
        while (std::getline(in, line)) {
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
            std::istringstream fields(line);
            std::string sl, local, rem, st, txrx, trwhen, retr, uid, timeout;
            unsigned long inode = 0;
            if (!(fields >> sl >> local >> rem >> st >> txrx >> trwhen >> retr >> uid >> timeout >> inode)) continue;
            auto colon = local.rfind(':');
            if (colon == std::string::npos) continue;
            unsigned p = 0;
            auto tail = std::string_view(local).substr(colon + 1);
            if (std::from_chars(tail.data(), tail.data() + tail.size(), p, 16).ec != std::errc{}) continue;
            if (static_cast<int>(p) != port || inode == 0) continue;
            (st == "0A" ? listening : other).push_back(inode);  // 0A: TCP_LISTEN
        }
    }
    return listening.empty() ? other : listening;
}

// The lowest pid with an fd on one of `inodes`, among the processes whose
// /proc/PID/fd this user may read; 0 if none.
int owner_pid(const std::vector<unsigned long>& inodes) {
    DIR* proc = ::opendir("/proc");
    if (!proc) return 0;
    int best = 0;
    while (dirent* e = ::readdir(proc)) {
        int pid = 0;
        std::string_view name(e->d_name);
        if (std::from_chars(name.data(), name.data() + name.size(), pid).ec != std::errc{} || pid <= 0) continue;
        if (best != 0 && pid >= best) continue;
        int dfd = ::open(("/proc/" + std::string(name) + "/fd").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) continue;  // another user's process, or gone
        DIR* fds = ::fdopendir(dfd);
        if (!fds) {
            ::close(dfd);
            continue;
        }
        while (dirent* f = ::readdir(fds)) {
            char link[64];
            ssize_t n = ::readlinkat(dfd, f->d_name, link, sizeof link - 1);
            if (n <= 8 || std::memcmp(link, "socket:[", 8) != 0) continue;
            unsigned long inode = 0;
            std::from_chars(link + 8, link + n, inode);
            if (std::find(inodes.begin(), inodes.end(), inode) != inodes.end()) {
                best = pid;
                break;
            }
        }
        ::closedir(fds);  // closes dfd
    }
    ::closedir(proc);
    return best;
}

bool valid_port(int p) { return p >= 1 && p <= 65535; }

Result<void> validate(const PortSpec& s) {
    using K = PortSpec::Kind;
    if ((s.kind == K::fixed || s.kind == K::prefer) && !valid_port(s.port)) {
        return fail(Errc::config, "port " + std::to_string(s.port) + ": expected a number 1-65535");
    }
    if ((s.kind == K::range || s.kind == K::prefer) &&
        (!valid_port(s.first) || !valid_port(s.last) || s.first > s.last)) {
        return fail(Errc::config, "port range " + std::to_string(s.first) + "-" + std::to_string(s.last) +
                                      ": expected A-B with 1 <= A <= B <= 65535");
    }
    return {};
}

std::optional<int> parse_number(std::string_view t) {
    int v = 0;
    if (t.empty() || t.size() > 5) return std::nullopt;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc{} || end != t.data() + t.size() || !valid_port(v)) return std::nullopt;
    return v;
}

}  // namespace

const std::error_category& port_category() noexcept {
    static const PortCategory c;
    return c;
}

Result<PortSpec> parse_port_spec(std::string_view text) {
    if (text == "auto") return PortSpec::any();
    auto expected = [&](std::string_view what) {
        return fail(Errc::config, "port \"" + std::string(text) + "\": expected " + std::string(what));
    };
    auto dash = text.find('-');
    if (dash == std::string_view::npos) {
        if (auto p = parse_number(text)) return PortSpec::fixed_port(*p);
        return expected("a number 1-65535, a range A-B, or auto");
    }
    auto a = parse_number(text.substr(0, dash));
    auto b = parse_number(text.substr(dash + 1));
    if (!a || !b) return expected("a number 1-65535, a range A-B, or auto");
    if (*a > *b) return expected("a range A-B with A <= B");
    return PortSpec::port_range(*a, *b);
}

std::string to_string(const PortSpec& s) {
    auto range = std::to_string(s.first) + "-" + std::to_string(s.last);
    switch (s.kind) {
    case PortSpec::Kind::none: return "none";
    case PortSpec::Kind::fixed: return std::to_string(s.port);
    case PortSpec::Kind::range: return range;
    case PortSpec::Kind::automatic: return "auto";
    case PortSpec::Kind::prefer: return std::to_string(s.port) + " in " + range;
    }
    return "?";
}

bool port_is_free(std::string_view host, int port) {
    if (!valid_port(port)) return false;
    auto addrs = resolve(host);
    return addrs && check_all(*addrs, port).first == 0;
}

std::optional<PortHolder> find_port_holder(int port) {
    auto inodes = socket_inodes(port);
    if (inodes.empty()) return std::nullopt;
    int pid = owner_pid(inodes);
    if (pid == 0) return std::nullopt;
    return PortHolder{pid, command_line(pid)};
}

Error port_in_use_error(int port) {
    std::string what = "port " + std::to_string(port) + " is in use";
    auto inodes = socket_inodes(port);
    if (int pid = inodes.empty() ? 0 : owner_pid(inodes); pid != 0) {
        what += " by pid " + std::to_string(pid) + " (" + command_line(pid) + ")";
    } else if (!inodes.empty()) {
        what += " by another process (not visible to this user)";
    } else {
        // A socket bound without listen() is in no table /proc shows.
        what += " (holder not found)";
    }
    return Error(PortErrc::in_use, std::move(what));
}

Result<int> allocate_port(const PortSpec& spec) {
    using K = PortSpec::Kind;
    if (spec.kind == K::none) return 0;
    if (auto ok = validate(spec); !ok) return fail(std::move(ok).error());
    auto addrs = resolve(spec.host);
    if (!addrs) return fail(std::move(addrs).error());

    if (spec.kind == K::fixed) {
        auto [err, at] = check_all(*addrs, spec.port);
        if (err == 0) return spec.port;
        if (err == EADDRINUSE) return fail(port_in_use_error(spec.port));
        return fail(bind_error(err, (*addrs)[at], spec.port));
    }

    if (spec.kind == K::automatic) {
        // No SO_REUSEADDR here: the kernel then avoids ports with any socket
        // at all (TIME_WAIT included). The other addresses must take it too.
        for (int attempt = 0; attempt < 20; ++attempt) {
            int port = 0;
            if (int err = try_bind(addrs->front(), 0, false, &port); err != 0) {
                return fail(bind_error(err, addrs->front(), 0));
            }
            if (check_all(*addrs, port).first == 0) return port;
        }
        return fail(Error(PortErrc::none_free, "ports the kernel assigns on " + spec.host));
    }

    // range, prefer: the preferred port first, then the range in order.
    std::pair<int, int> first_err{0, -1};
    int first_err_port = 0;
    int first_busy = 0;  // the first port tried that someone holds
    auto try_port = [&](int p) {
        auto r = check_all(*addrs, p);
        if (r.first == EADDRINUSE) {
            if (first_busy == 0) first_busy = p;
        } else if (r.first != 0 && first_err.first == 0) {
            first_err = r;
            first_err_port = p;
        }
        return r.first == 0;
    };
    if (spec.kind == K::prefer && try_port(spec.port)) return spec.port;
    for (int p = spec.first; p <= spec.last; ++p) {
        if (spec.kind == K::prefer && p == spec.port) continue;
        if (try_port(p)) return p;
    }
    // Nothing was merely busy: every bind failed otherwise (EACCES, an
    // address not on this machine): that error says more than "none free".
    if (first_busy == 0 && first_err.first != 0) {
        return fail(bind_error(first_err.first, (*addrs)[first_err.second], first_err_port));
    }
    std::string where = "ports " + std::to_string(spec.first) + "-" + std::to_string(spec.last);
    if (spec.kind == K::prefer && (spec.port < spec.first || spec.port > spec.last)) {
        where = "port " + std::to_string(spec.port) + " and " + where;
    }
    where += " on " + spec.host;
    // Taken by other programs, like a busy fixed port: in_use, naming who
    // holds the first one (usually one program took the whole start of it).
    Error busy = port_in_use_error(first_busy);
    return fail(Error(PortErrc::in_use, "no free port in " + where + ": " + busy.context));
}

}  // namespace reins::supervisor
