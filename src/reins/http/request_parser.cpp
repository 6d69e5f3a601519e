#include "reins/http/request_parser.hpp"

#include <llhttp.h>

#include <utility>

namespace reins::http {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// RFC 9110 token: what a header name may be made of. llhttp 8 lets a space
// in a name and an empty name through; a request with either is refused.
bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

// ---- targets and queries ---------------------------------------------------------

TargetParts split_target(std::string_view target) {
    if (std::size_t hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
    if (!target.empty() && target.front() != '/') {
        // Absolute form (a proxy-style "http://host:port/path"): keep the path.
        if (std::size_t scheme = target.find("://"); scheme != std::string_view::npos) {
            std::size_t slash = target.find_first_of("/?", scheme + 3);
            target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
            if (!target.empty() && target.front() == '?') return {"/", target.substr(1)};
        }
    }
    std::size_t q = target.find('?');
    if (q == std::string_view::npos) return {target, {}};
    return {target.substr(0, q), target.substr(q + 1)};
}

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= s.size()) return std::nullopt;
            int hi = hex_value(s[i + 1]);
            int lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c == '\0') return std::nullopt;
        out += c;
    }
    return out;
}

std::optional<std::map<std::string, std::string>> parse_query(std::string_view query) {
    std::map<std::string, std::string> out;
    while (!query.empty()) {
        std::size_t amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (pair.empty()) continue;
        std::size_t eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq), true);
        auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
        if (!key || !value) return std::nullopt;
        out[std::move(*key)] = std::move(*value);
    }
    return out;
}

// ---- the parser --------------------------------------------------------------------

struct RequestParser::Impl {
    llhttp_t parser{};
    llhttp_settings_t settings{};
    RequestLimits limits;
    State state = State::need_more;
    bool started = false;
    bool head_done = false;
    std::size_t head_bytes = 0;  // fed while the head was incomplete
    std::size_t trailer_bytes = 0;
    std::string url, field, value;
    ParsedRequest current;
    RequestError error;
    bool own_error = false;  // error was set by a callback, not by llhttp

    explicit Impl(RequestLimits l) : limits(l) {
        llhttp_settings_init(&settings);
        settings.on_message_begin = &on_message_begin;
        settings.on_method = &on_method;
        settings.on_url = &on_url;
        settings.on_header_field = &on_header_field;
        settings.on_header_value = &on_header_value;
        settings.on_header_value_complete = &on_header_value_complete;
        settings.on_headers_complete = &on_headers_complete;
        settings.on_body = &on_body;
        settings.on_message_complete = &on_message_complete;
        llhttp_init(&parser, HTTP_REQUEST, &settings);
        parser.data = this;
    }

    static Impl& self(llhttp_t* p) { return *static_cast<Impl*>(p->data); }

    // Callbacks return -1 with `error` set; llhttp then stops with HPE_CB_*.
    int refuse(int status, std::string reason) {
        error = {status, std::move(reason)};
        own_error = true;
        return -1;
    }

    static int on_message_begin(llhttp_t* p) noexcept {
        Impl& s = self(p);
        s.started = true;
        s.current = ParsedRequest{};
        s.url.clear();
        s.field.clear();
        s.value.clear();
        return 0;
    }
    // The data callbacks may come in pieces (one per feed); the head budget
    // bounds what they accumulate.
    static int on_method(llhttp_t* p, const char* at, size_t n) noexcept {
        return append(self(p).current.request.method, at, n);
    }
    static int on_url(llhttp_t* p, const char* at, size_t n) noexcept { return append(self(p).url, at, n); }
    static int on_header_field(llhttp_t* p, const char* at, size_t n) noexcept {
        Impl& s = self(p);
        if (s.head_done) return s.trailer(n);
        return append(s.field, at, n);
    }
    static int on_header_value(llhttp_t* p, const char* at, size_t n) noexcept {
        Impl& s = self(p);
        if (s.head_done) return s.trailer(n);
        return append(s.value, at, n);
    }
    // Trailers (after a chunked body) are not kept, but they count against
    // the head limit so that an endless trailer section ends too.
    int trailer(std::size_t n) {
        trailer_bytes += n;
        if (trailer_bytes > limits.max_head)
            return refuse(431, "trailers larger than " + std::to_string(limits.max_head) + " bytes");
        return 0;
    }
    static int on_header_value_complete(llhttp_t* p) noexcept {
        Impl& s = self(p);
        if (s.head_done) return 0;
        if (!is_token(s.field)) return s.refuse(400, "invalid header name");
        try {
            s.current.request.headers.push_back({std::move(s.field), std::string(trim(s.value))});
        } catch (...) {
            return s.refuse(500, "out of memory");
        }
        s.field.clear();
        s.value.clear();
        return 0;
    }
    static int append(std::string& to, const char* at, size_t n) noexcept {
        try {
            to.append(at, n);
            return 0;
        } catch (...) {
            return -1;
        }
    }

    static int on_headers_complete(llhttp_t* p) noexcept {
        Impl& s = self(p);
        s.head_done = true;
        try {
            return s.headers_complete();
        } catch (...) {
            return s.refuse(500, "out of memory");
        }
    }

    int headers_complete() {
        Request& r = current.request;
        r.target = url;
        TargetParts parts = split_target(url);
        auto path = percent_decode(parts.path);
        if (!path) return refuse(400, "malformed percent escape or NUL in the path");
        auto query = parse_query(parts.query);
        if (!query) return refuse(400, "malformed percent escape or NUL in the query");
        r.path = std::move(*path);
        r.query = std::move(*query);
        current.http_1_0 = parser.http_major == 1 && parser.http_minor == 0;
        if (auto te = find_header(r.headers, "Transfer-Encoding")) {
            // llhttp decodes chunked; any other coding (gzip...) is not ours to undo.
            if (!iequals(trim(*te), "chunked")) return refuse(501, "unsupported Transfer-Encoding");
        }
        if ((parser.flags & F_CONTENT_LENGTH) && parser.content_length > limits.max_body)
            return refuse(413, "body larger than " + std::to_string(limits.max_body) + " bytes");
        return 0;
    }

    static int on_body(llhttp_t* p, const char* at, size_t n) noexcept {
        Impl& s = self(p);
        std::string& body = s.current.request.body;
        if (n > s.limits.max_body - body.size())
            return s.refuse(413, "body larger than " + std::to_string(s.limits.max_body) + " bytes");
        return append(body, at, n);
    }

    static int on_message_complete(llhttp_t* p) noexcept {
        Impl& s = self(p);
        // An Upgrade or CONNECT turns the connection into another protocol,
        // which reins does not speak: answer this request, then close.
        s.current.keep_alive = llhttp_should_keep_alive(p) != 0 && p->upgrade == 0;
        s.state = State::ready;
        return HPE_PAUSED;  // one request at a time: the rest waits for take()
    }

    void fail_from_llhttp(llhttp_errno_t rc) {
        state = State::failed;
        if (own_error) return;
        const char* reason = llhttp_get_error_reason(&parser);
        error = {400, reason && *reason ? reason : llhttp_errno_name(rc)};
    }

    std::size_t feed(std::string_view data) {
        std::size_t used = 0;
        while (state == State::need_more && used < data.size()) {
            std::string_view chunk = data.substr(used);
            if (!head_done) {
                // Never give llhttp more head than the limit allows: if the head
                // is still incomplete after max_head bytes, it is too large.
                std::size_t budget = limits.max_head - head_bytes;
                if (chunk.size() > budget) chunk = chunk.substr(0, budget);
            }
            llhttp_errno_t rc = llhttp_execute(&parser, chunk.data(), chunk.size());
            std::size_t n = chunk.size();
            if (rc == HPE_PAUSED) {
                n = static_cast<std::size_t>(llhttp_get_error_pos(&parser) - chunk.data());
                llhttp_resume(&parser);
            } else if (rc != HPE_OK) {
                const char* pos = llhttp_get_error_pos(&parser);
                if (pos >= chunk.data() && pos <= chunk.data() + chunk.size())
                    n = static_cast<std::size_t>(pos - chunk.data());
                fail_from_llhttp(rc);
            }
            if (!head_done) head_bytes += n;
            used += n;
            if (state == State::need_more && !head_done && head_bytes >= limits.max_head) {
                state = State::failed;
                error = {431, "request head larger than " + std::to_string(limits.max_head) + " bytes"};
            }
        }
        return used;
    }
};

RequestParser::RequestParser(RequestLimits limits) : impl_(std::make_unique<Impl>(limits)) {}
RequestParser::~RequestParser() = default;
RequestParser::RequestParser(RequestParser&&) noexcept = default;
RequestParser& RequestParser::operator=(RequestParser&&) noexcept = default;

std::size_t RequestParser::feed(std::string_view data) { return impl_->feed(data); }
RequestParser::State RequestParser::state() const noexcept { return impl_->state; }
bool RequestParser::started() const noexcept { return impl_->started || impl_->head_bytes > 0; }
bool RequestParser::head_complete() const noexcept { return impl_->head_done; }

bool RequestParser::expects_continue() const noexcept {
    const Impl& s = *impl_;
    if (!s.head_done || s.state != State::need_more || s.current.http_1_0 || !s.current.request.body.empty())
        return false;
    auto expect = find_header(s.current.request.headers, "Expect");
    return expect && iequals(trim(*expect), "100-continue");
}

ParsedRequest RequestParser::take() {
    Impl& s = *impl_;
    ParsedRequest out = std::move(s.current);
    s.current = ParsedRequest{};
    s.started = false;
    s.head_done = false;
    s.head_bytes = 0;
    s.trailer_bytes = 0;
    s.state = out.keep_alive ? State::need_more : State::closed;
    return out;
}

const RequestError& RequestParser::error() const noexcept { return impl_->error; }

}  // namespace reins::http
