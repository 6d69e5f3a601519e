// HTTP/1.1 messages as the server and the router see them: a parsed Request
// and the Response a handler returns. Shared by client and server code; keep
// it small and only ever add to it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "reins/async/unix_socket.hpp"

namespace reins::http {

/// One header line, name as sent (compare names case-insensitively).
struct Header {
    std::string name;
    std::string value;
};
/// Headers in the order they came (repeated names stay separate entries).
using Headers = std::vector<Header>;

/// The value of the first header called `name` (ASCII case-insensitive).
std::optional<std::string_view> find_header(const Headers& headers, std::string_view name);

/// ASCII case-insensitive equality (header names, tokens such as "chunked").
bool iequals(std::string_view a, std::string_view b) noexcept;

/// A request that reached a handler: already well-formed and within limits.
struct Request {
    std::string method;                       ///< "GET", "POST"...
    std::string target;                       ///< the request target as sent ("/v1/logs/web?n=10")
    std::string path;                         ///< percent-decoded path, without the query
    std::map<std::string, std::string> query; ///< decoded query parameters (last one wins)
    Headers headers;
    std::string body;                         ///< de-chunked
    std::map<std::string, std::string> params; ///< path parameters filled by the router ("{name}")
    std::optional<PeerCredentials> peer;      ///< the client, on a Unix socket (SO_PEERCRED)
};

/// What a handler answers. Content-Length (and Connection) are added by the
/// server; headers set here are sent as given.
struct Response {
    int status = 200;
    Headers headers;
    std::string body;

    /// `j` serialised, with Content-Type: application/json.
    static Response json(const nlohmann::json& j, int status = 200);
    /// `body` with Content-Type: text/plain; charset=utf-8.
    static Response text(std::string body, int status = 200);
};

/// "OK", "Not Found"... ("Unknown" for a status without a standard phrase).
std::string_view reason_phrase(int status);

}  // namespace reins::http
