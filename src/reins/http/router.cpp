#include "reins/http/router.hpp"

#include <algorithm>
#include <stdexcept>

#include "reins/http/request_parser.hpp"

namespace reins::http {

namespace {

// "/a/b" -> {a, b}; "/" -> {}; "/a/" -> {a, ""}. The path starts with '/'.
std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> out;
    if (path.size() <= 1) return out;
    path.remove_prefix(1);
    for (;;) {
        std::size_t slash = path.find('/');
        out.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return out;
}

// True when `a` is more specific than `b`: at the first position where one
// has a literal and the other a parameter, the literal wins
// ("/v1/services/all" over "/v1/services/{name}").
template <class Segments>
bool more_specific(const Segments& a, const Segments& b) {
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
        if (a[i].param != b[i].param) return !a[i].param;
    return false;
}

void add_method(std::vector<std::string>& methods, const std::string& m) {
    if (std::find(methods.begin(), methods.end(), m) == methods.end()) methods.push_back(m);
}

}  // namespace

std::vector<Router::Segment> Router::compile(std::string_view pattern) {
    if (pattern.empty() || pattern.front() != '/')
        throw std::invalid_argument("route pattern \"" + std::string(pattern) + "\" must start with '/'");
    std::vector<Segment> out;
    for (std::string_view seg : split_path(pattern)) {
        Segment s;
        if (!seg.empty() && seg.front() == '{') {
            if (seg.size() < 3 || seg.back() != '}' || seg.find_first_of("{}", 1) != seg.size() - 1)
                throw std::invalid_argument("route pattern \"" + std::string(pattern) + "\": malformed parameter \"" +
                                            std::string(seg) + "\"");
            s.param = true;
            s.text = std::string(seg.substr(1, seg.size() - 2));
            for (const Segment& o : out)
                if (o.param && o.text == s.text)
                    throw std::invalid_argument("route pattern \"" + std::string(pattern) + "\": parameter {" +
                                                s.text + "} used twice");
        } else {
            if (seg.find_first_of("{}") != std::string_view::npos)
                throw std::invalid_argument("route pattern \"" + std::string(pattern) + "\": stray brace in \"" +
                                            std::string(seg) + "\"");
            s.text = std::string(seg);
        }
        out.push_back(std::move(s));
    }
    return out;
}

Router& Router::insert(Route r, std::string_view pattern) {
    if (r.method.empty()) throw std::invalid_argument("route " + std::string(pattern) + ": empty method");
    r.segments = compile(pattern);
    for (const Route& o : routes_) {
        bool same = o.method == r.method && o.segments.size() == r.segments.size();
        for (std::size_t i = 0; same && i < o.segments.size(); ++i)
            same = o.segments[i].param == r.segments[i].param && (o.segments[i].param || o.segments[i].text == r.segments[i].text);
        if (same) throw std::invalid_argument("route " + r.method + " " + std::string(pattern) + " added twice");
    }
    routes_.push_back(std::move(r));
    return *this;
}

Router& Router::add(std::string method, std::string_view pattern, Handler handler) {
    Route r;
    r.method = std::move(method);
    r.handler = std::move(handler);
    return insert(std::move(r), pattern);
}

Router& Router::add_stream(std::string method, std::string_view pattern, StreamHandler handler) {
    Route r;
    r.method = std::move(method);
    r.stream = std::move(handler);
    return insert(std::move(r), pattern);
}

bool Router::matches(const Route& r, const std::vector<std::string_view>& segs,
                     std::map<std::string, std::string>* params) {
    if (r.segments.size() != segs.size()) return false;
    for (std::size_t i = 0; i < segs.size(); ++i) {
        auto decoded = percent_decode(segs[i]);
        if (!decoded) return false;
        const Segment& s = r.segments[i];
        if (!s.param) {
            if (*decoded != s.text) return false;
        } else {
            if (decoded->empty() || *decoded == "." || *decoded == "..") return false;
            if (params) (*params)[s.text] = std::move(*decoded);
        }
    }
    return true;
}

Router::Match Router::match(std::string_view method, std::string_view target) const {
    Match m;
    std::string_view path = split_target(target).path;
    if (path.empty() || path.front() != '/') return m;
    std::vector<std::string_view> segs = split_path(path);

    const Route* best = nullptr;
    const Route* get_fallback = nullptr;  // for HEAD
    std::vector<std::string> methods;
    for (const Route& r : routes_) {
        if (!matches(r, segs, nullptr)) continue;
        add_method(methods, r.method);
        if (r.method == method) {
            if (!best || more_specific(r.segments, best->segments)) best = &r;
        } else if (method == "HEAD" && r.method == "GET" && r.handler) {
            if (!get_fallback || more_specific(r.segments, get_fallback->segments)) get_fallback = &r;
        }
    }
    if (!best) best = get_fallback;
    if (best) {
        m.kind = Match::Kind::found;
        matches(*best, segs, &m.params);
        if (best->handler) m.handler = &best->handler;
        else m.stream = &best->stream;
        return m;
    }
    if (methods.empty()) return m;
    m.kind = Match::Kind::method_not_allowed;
    bool has_get = false;
    for (const Route& r : routes_)
        if (r.method == "GET" && r.handler && matches(r, segs, nullptr)) has_get = true;
    if (has_get) add_method(methods, "HEAD");
    for (const std::string& x : methods) {
        if (!m.allow.empty()) m.allow += ", ";
        m.allow += x;
    }
    return m;
}

}  // namespace reins::http
