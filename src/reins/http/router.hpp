// Router: method + path pattern -> handler, with path parameters.
#pragma once

#include <functional>
#include <map>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "reins/async/task.hpp"
#include "reins/http/message.hpp"
#include "reins/http/response_stream.hpp"

namespace reins::http {

/// Answers one request. `stop` fires when the server stops (not when the
/// client goes away: an action such as a restart completes regardless).
/// g++ 12 forbids capturing coroutine lambdas: bind state with a plain
/// lambda that returns the Task of a coroutine taking it by pointer, e.g.
/// `[api](Request r, std::stop_token s) { return status(api, std::move(r), s); }`.
using Handler = std::function<Task<Response>(Request, std::stop_token)>;
/// Streams an answer (see ResponseStream). `stop` is the stream's
/// stop_token(): it also fires when the client goes away.
using StreamHandler = std::function<Task<void>(Request, ResponseStream, std::stop_token)>;

/// Routes by method and path. Patterns are made of literal segments and
/// `{name}` parameters ("/v1/services/{name}/restart"); a parameter
/// matches exactly one non-empty segment (percent-decoded into
/// Request::params), never "." or "..". Matching is exact: no trailing
/// slash folding, no prefix routes. A HEAD request with no HEAD route uses
/// the GET route of a plain handler (the server sends no body).
class Router {
public:
    /// Adds a plain route. Throws std::invalid_argument for a malformed
    /// pattern (not starting with '/', an empty or unclosed `{}`, a
    /// parameter name used twice) or a method+pattern already routed: both
    /// are bugs in the caller.
    Router& add(std::string method, std::string_view pattern, Handler handler);
    /// Adds a streaming route (same rules as add()).
    Router& add_stream(std::string method, std::string_view pattern, StreamHandler handler);

    /// What a request maps to.
    struct Match {
        enum class Kind { found, not_found, method_not_allowed };
        Kind kind = Kind::not_found;
        const Handler* handler = nullptr;        ///< a plain route matched
        const StreamHandler* stream = nullptr;   ///< a streaming route matched
        std::map<std::string, std::string> params;
        /// For method_not_allowed: the methods the path has ("GET, HEAD, POST").
        std::string allow;
    };
    /// Matches `method` and the raw (still percent-encoded) path of
    /// `target`; parameters are decoded per segment, so "%2F" stays inside
    /// one parameter.
    Match match(std::string_view method, std::string_view target) const;

    /// Number of routes.
    std::size_t size() const noexcept { return routes_.size(); }

private:
    struct Segment {
        std::string text;  // literal text, or the parameter name
        bool param = false;
    };
    struct Route {
        std::string method;
        std::vector<Segment> segments;
        Handler handler;
        StreamHandler stream;
    };
    Router& insert(Route r, std::string_view pattern);
    static std::vector<Segment> compile(std::string_view pattern);
    static bool matches(const Route& r, const std::vector<std::string_view>& segs,
                        std::map<std::string, std::string>* params);

    std::vector<Route> routes_;
};

}  // namespace reins::http
