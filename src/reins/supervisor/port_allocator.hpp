// Port allocation (docs/config.md, `[service.NAME]` port): which port a
// service gets, and who holds a port that is busy.
//
// A port counts as free when a socket can bind it the way a server would
// (SO_REUSEADDR, so a port left in TIME_WAIT by a previous run is free);
// the socket is closed at once. Everything here is synchronous plain
// socket(2)/bind(2) work plus reads of /proc, so the CLI can use it without
// a Loop; none of it blocks, except resolving a host that is a name.
//
// The race: a port found free can be taken by someone else before the
// child binds it (another program, or an outgoing connection given that
// port as its ephemeral local port, which "auto" ports are especially
// exposed to). The allocator deliberately does not hold the port open until
// the child starts: the child could not bind it then, and handing the
// socket itself to the child (systemd socket activation) needs the child's
// cooperation. A child that fails to bind simply fails its start, and the
// restart policy allocates again.
//
// Which addresses are checked: the host's own address; "localhost" and
// "::1" check 127.0.0.1 and ::1 (servers told "localhost" bind either), the
// IPv6 side of "localhost" only where the kernel has IPv6; another name is
// resolved (blocking) and every address it has is checked.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "reins/async/result.hpp"

namespace reins::supervisor {

/// Why no port could be given (category "reins.port"). The CLI maps both
/// to exit code 2.
enum class PortErrc {
    in_use = 1,  ///< the fixed port, or every port of the range, is held by someone else
    none_free,   ///< the kernel assigned no port that is free on every address
};

/// The error category of PortErrc ("reins.port").
const std::error_category& port_category() noexcept;

/// Lets `error.code == PortErrc::in_use` compare (found by ADL).
inline std::error_code make_error_code(PortErrc e) noexcept {
    return {static_cast<int>(e), port_category()};
}

}  // namespace reins::supervisor

template <>
struct std::is_error_code_enum<reins::supervisor::PortErrc> : std::true_type {};

namespace reins::supervisor {

/// What a service asks for: no port, a fixed one, the first free of a
/// range, any (kernel-assigned), or a preferred one with a range to fall
/// back on. Ports are 1-65535, ranges inclusive.
struct PortSpec {
    enum class Kind {
        none,       ///< no port: PORT is not exported
        fixed,      ///< exactly `port`; busy is an error
        range,      ///< the first free port of first..last
        automatic,  ///< a port the kernel assigns (bind to port 0)
        prefer,     ///< `port` if free, else the first free of first..last
    };

    Kind kind = Kind::none;
    int port = 0;   ///< fixed: the port; prefer: the preferred port (may lie outside the range)
    int first = 0;  ///< range / prefer: lowest port
    int last = 0;   ///< range / prefer: highest port
    /// Where the service will listen: "127.0.0.1" (default), "::1",
    /// "localhost", or any address or name a service sets explicitly.
    std::string host = "127.0.0.1";

    /// Exactly port `p`.
    static PortSpec fixed_port(int p) { return make(Kind::fixed, p, 0, 0); }
    /// The first free port of a..b.
    static PortSpec port_range(int a, int b) { return make(Kind::range, 0, a, b); }
    /// A port the kernel picks.
    static PortSpec any() { return make(Kind::automatic, 0, 0, 0); }
    /// `p` if free, else the first free port of a..b.
    static PortSpec prefer_in(int p, int a, int b) { return make(Kind::prefer, p, a, b); }

    friend bool operator==(const PortSpec&, const PortSpec&) = default;

private:
    static PortSpec make(Kind k, int p, int a, int b) {
        PortSpec s;
        s.kind = k;
        s.port = p;
        s.first = a;
        s.last = b;
        return s;
    }
};

/// Parses the CLI and config string forms "auto", "5173" and "8000-8100"
/// (host left at its default). Anything else is an Errc::config error:
/// `port "80000": expected a number 1-65535, a range A-B, or auto`.
Result<PortSpec> parse_port_spec(std::string_view text);

/// The spec in the form parse_port_spec reads ("6379 in 6379-6479" for
/// prefer, "none" for none), for `reins check` and status output.
std::string to_string(const PortSpec& spec);

/// The port to give the service: 0 for Kind::none; otherwise a port free
/// right now on every address of spec.host (see the race above).
/// Errors: PortErrc::in_use for a busy fixed port, with the context naming
/// the holder ("port 5173 is in use by pid 812 (node vite)" — a sentence
/// the CLI can print alone; message() adds ": address already in use");
/// PortErrc::in_use too when no port of a range (or prefer + range) is
/// free, naming the holder of the first port tried ("no free port in ports
/// 8000-8002 on 127.0.0.1: port 8000 is in use by pid 812 (node vite)");
/// PortErrc::none_free when "auto" finds nothing free; Errc::config for
/// an invalid spec; an errno error for other bind failures ("bind
/// 127.0.0.1:80": permission denied; an address not on this machine).
Result<int> allocate_port(const PortSpec& spec);

/// True if `port` can be bound now on every address of `host` (false too
/// when the host cannot be resolved or bind fails for another reason).
bool port_is_free(std::string_view host, int port);

/// The process holding a TCP port.
struct PortHolder {
    int pid = 0;
    std::string command;  ///< its command line, args joined by spaces, shortened
};

/// The process with a socket on `port` (IPv4 or IPv6, any address; a
/// LISTEN socket first, else a connection using it as its local port),
/// found through /proc/net/tcp{,6} inodes and /proc/*/fd. With several
/// holders (a forked server), the lowest pid. nullopt if there is no such
/// socket, if its owner is not visible to this user, or if the socket is
/// bound without listening (no /proc/net table lists those).
std::optional<PortHolder> find_port_holder(int port);

/// The PortErrc::in_use error for `port`, naming the holder as well as can
/// be found: "port 5173 is in use by pid 812 (node vite)", "... in use by
/// another process (not visible to this user)", "... in use (holder not
/// found)". For callers that learn of a busy port some other way.
Error port_in_use_error(int port);

}  // namespace reins::supervisor
