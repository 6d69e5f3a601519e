#include "reins/http/response_parser.hpp"

#include <llhttp.h>

#include <algorithm>
#include <new>

namespace reins::http {

struct ResponseParser::Native {
    llhttp_t parser;
    llhttp_settings_t settings;  // per instance: nothing global to initialise
};

// llhttp is C: these never throw (everything they call is noexcept), and each
// forwards to the member that does the work.
struct ResponseParser::Thunks {
    static ResponseParser& self(llhttp_t* p) noexcept { return *static_cast<ResponseParser*>(p->data); }

    static int on_status(llhttp_t* p, const char* at, size_t n) noexcept { return self(p).on_status(at, n); }
    static int on_header_field(llhttp_t* p, const char* at, size_t n) noexcept {
        return self(p).on_header_field(at, n);
    }
    static int on_header_field_complete(llhttp_t* p) noexcept {
        self(p).in_field_ = false;
        return 0;
    }
    static int on_header_value(llhttp_t* p, const char* at, size_t n) noexcept {
        return self(p).on_header_value(at, n);
    }
    static int on_header_value_complete(llhttp_t* p) noexcept { return self(p).on_header_value_complete(); }
    static int on_headers_complete(llhttp_t* p) noexcept { return self(p).on_headers_complete(); }
    static int on_body(llhttp_t* p, const char* at, size_t n) noexcept { return self(p).on_body(at, n); }
    static int on_message_complete(llhttp_t* p) noexcept { return self(p).on_message_complete(); }
};

namespace {
const char* const too_many_headers = "too many header lines";
}

ResponseParser::ResponseParser(ResponseParserOptions options) {
    static_assert(sizeof(Native) <= sizeof native_, "llhttp grew: enlarge ResponseParser::native_");
    static_assert(alignof(Native) <= 8, "llhttp needs a stricter alignment than native_ has");
    Native* n = ::new (static_cast<void*>(native_)) Native{};  // trivially destructible C structs
    llhttp_settings_init(&n->settings);
    n->settings.on_status = &Thunks::on_status;
    n->settings.on_header_field = &Thunks::on_header_field;
    n->settings.on_header_field_complete = &Thunks::on_header_field_complete;
    n->settings.on_header_value = &Thunks::on_header_value;
    n->settings.on_header_value_complete = &Thunks::on_header_value_complete;
    n->settings.on_headers_complete = &Thunks::on_headers_complete;
    n->settings.on_body = &Thunks::on_body;
    n->settings.on_message_complete = &Thunks::on_message_complete;
    reset(options);
}

ResponseParser::Native& ResponseParser::native() noexcept {
    return *std::launder(reinterpret_cast<Native*>(native_));
}

void ResponseParser::reset(ResponseParserOptions options) {
    options_ = options;
    Native& n = native();
    llhttp_init(&n.parser, HTTP_RESPONSE, &n.settings);
    n.parser.data = this;
    response_.status = 0;
    response_.reason.clear();
    response_.headers.clear();
    response_.body.clear();
    state_ = State::more;
    failure_ = Failure::none;
    error_name_ = reason_ = "";
    head_bytes_ = bytes_seen_ = 0;
    content_length_ = 0;
    has_content_length_ = head_complete_ = in_field_ = in_trailers_ = false;
}

ResponseParser::State ResponseParser::feed(std::string_view bytes) {
    if (state_ != State::more || bytes.empty()) return state_;
    bytes_seen_ += bytes.size();
    return after_execute(llhttp_execute(&native().parser, bytes.data(), bytes.size()));
}

ResponseParser::State ResponseParser::finish() {
    if (state_ != State::more) return state_;
    // Nothing at all is not an empty response: llhttp would call that "safe".
    if (bytes_seen_ > 0) {
        // Completes a body that runs to the end of the stream (on_message_complete).
        llhttp_finish(&native().parser);
        if (state_ != State::more) return state_;
    }
    failure_ = Failure::truncated;
    return state_ = State::failed;
}

ResponseParser::State ResponseParser::after_execute(int err) noexcept {
    if (state_ != State::more) return state_;  // a callback finished or failed us
    if (err == HPE_OK) return state_;
    failure_ = Failure::malformed;
    error_name_ = llhttp_errno_name(static_cast<llhttp_errno_t>(err));
    const char* why = llhttp_get_error_reason(&native().parser);
    reason_ = why ? why : "";
    return state_ = State::failed;
}

int ResponseParser::fail_with(Failure f) noexcept {
    failure_ = f;
    state_ = State::failed;
    return -1;  // llhttp stops with an error we then ignore: failure_ says why
}

bool ResponseParser::count_head(std::size_t n) noexcept {
    head_bytes_ += n;  // cumulative over 1xx interim responses too: no endless "100 Continue"
    return head_bytes_ <= options_.max_head;
}

int ResponseParser::on_status(const char* at, std::size_t n) noexcept {
    if (!count_head(n)) return fail_with(Failure::head_too_large);
    response_.reason.append(at, n);  // bounded by max_head; bad_alloc would be a bug elsewhere
    return 0;
}

int ResponseParser::on_header_field(const char* at, std::size_t n) noexcept {
    if (!count_head(n)) return fail_with(Failure::head_too_large);
    if (in_trailers_) return 0;  // trailers are counted, not kept
    if (!in_field_) {
        Headers& h = response_.headers;
        if (h.size() >= options_.max_headers) {
            reason_ = too_many_headers;
            return fail_with(Failure::head_too_large);
        }
        if (h.capacity() == 0) h.reserve(std::min<std::size_t>(options_.max_headers, 16));  // one allocation
        h.emplace_back();
        in_field_ = true;
    }
    response_.headers.back().name.append(at, n);
    return 0;
}

int ResponseParser::on_header_value(const char* at, std::size_t n) noexcept {
    if (!count_head(n)) return fail_with(Failure::head_too_large);
    if (in_trailers_ || response_.headers.empty()) return 0;
    response_.headers.back().value.append(at, n);
    return 0;
}

int ResponseParser::on_header_value_complete() noexcept {
    // llhttp drops leading whitespace but keeps trailing: finalize the value.
    if (in_trailers_ || response_.headers.empty()) return 0;
    std::string& v = response_.headers.back().value;
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
    return 0;
}

int ResponseParser::on_headers_complete() noexcept {
    llhttp_t& p = native().parser;
    int status = p.status_code;
    if (status < 100 || status > 999) {
        // llhttp 8 takes "HTTP/1.1 3 OK"; RFC 9112 says three digits.
        error_name_ = "HPE_INVALID_STATUS";
        reason_ = "Invalid status code";
        return fail_with(Failure::malformed);
    }
    // 1xx interim responses (not 101) have no body; the final one follows.
    if (status / 100 == 1 && status != 101) return 0;
    head_complete_ = true;
    in_trailers_ = true;  // any header after this point is a chunked trailer
    response_.status = status;
    has_content_length_ = (p.flags & F_CONTENT_LENGTH) != 0 && (p.flags & F_CHUNKED) == 0;
    content_length_ = has_content_length_ ? p.content_length : 0;
    if (options_.headers_only) {
        state_ = State::done;
        return HPE_PAUSED;
    }
    if (options_.head_request) return 1;  // "no body", whatever Content-Length says
    bool bodyless = status == 204 || status == 304;
    if (has_content_length_ && !bodyless) {
        if (content_length_ > options_.max_body) return fail_with(Failure::body_too_large);
        response_.body.reserve(static_cast<std::size_t>(content_length_));  // one allocation
    }
    return 0;
}

int ResponseParser::on_body(const char* at, std::size_t n) noexcept {
    if (response_.body.size() + n > options_.max_body) return fail_with(Failure::body_too_large);
    response_.body.append(at, n);
    return 0;
}

int ResponseParser::on_message_complete() noexcept {
    if (!head_complete_) {
        // The end of an interim 1xx: what it said does not belong to the answer.
        response_.reason.clear();
        response_.headers.clear();
        in_field_ = false;
        return 0;
    }
    state_ = State::done;
    return HPE_PAUSED;  // ignore whatever follows (we asked for Connection: close)
}

std::string ResponseParser::describe_failure() const {
    auto num = [](auto v) { return std::to_string(v); };
    switch (failure_) {
    case Failure::none:
        return "no failure";
    case Failure::malformed:
        return std::string("malformed response (") + error_name_ + ": " + reason_ + ")";
    case Failure::head_too_large:
        if (reason_ == too_many_headers) return "response has more than " + num(options_.max_headers) + " header lines";
        return "response head is over " + num(options_.max_head) + " bytes";
    case Failure::body_too_large:
        if (has_content_length_ && content_length_ > options_.max_body)
            return "response body of " + num(content_length_) + " bytes is over the limit of " +
                   num(options_.max_body);
        return "response body is over the limit of " + num(options_.max_body) + " bytes";
    case Failure::truncated:
        if (bytes_seen_ == 0) return "connection closed before the status line";
        if (!head_complete_) return "connection closed in the response head (after " + num(bytes_seen_) + " bytes)";
        if (has_content_length_)
            return "connection closed in the body (" + num(response_.body.size()) + " of " + num(content_length_) +
                   " bytes)";
        return "connection closed in the body (after " + num(response_.body.size()) + " bytes)";
    }
    return "unknown failure";
}

}  // namespace reins::http
