// The sans-I/O half of the server's connections: wire format, Exchange, dispatch.
#include "reins/http/connection.hpp"

namespace reins::http::detail {

namespace {

bool is_token_char(char c) {
    if (c >= 'a' && c <= 'z') return true;
    if (c >= 'A' && c <= 'Z') return true;
    if (c >= '0' && c <= '9') return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool valid_name(std::string_view name) {
    if (name.empty()) return false;
    for (char c : name)
        if (!is_token_char(c)) return false;
    return true;
}

// Framing is the server's: a handler's own Content-Length, Transfer-Encoding
// or Connection could contradict it (and smuggle a second response).
bool framing_header(std::string_view name) {
    return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") || iequals(name, "Connection");
}

void append_headers(std::string& out, const Headers& headers) {
    for (const Header& h : headers) {
        if (!valid_name(h.name) || framing_header(h.name)) continue;
        out += h.name;
        out += ": ";
        for (char c : h.value) out += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
        out += "\r\n";
    }
}

void status_line(std::string& out, int status) {
    out += "HTTP/1.1 ";
    out += std::to_string(status);
    out += ' ';
    out += reason_phrase(status);
    out += "\r\n";
}

void connection_header(std::string& out, const Framing& f) {
    if (!f.keep_alive) out += "Connection: close\r\n";
    else if (f.http_1_0) out += "Connection: keep-alive\r\n";
}

}  // namespace

// ---- wire format ---------------------------------------------------------------

std::string serialize_response(const Response& r, const Framing& f) {
    int status = (r.status >= 200 && r.status <= 599) ? r.status : 500;
    bool no_body = status == 204 || status == 304;
    std::string out;
    out.reserve(128 + r.body.size());
    status_line(out, status);
    append_headers(out, r.headers);
    if (!no_body) {
        out += "Content-Length: ";
        out += std::to_string(r.body.size());
        out += "\r\n";
    }
    connection_header(out, f);
    out += "\r\n";
    if (!no_body && !f.head_only) out += r.body;
    return out;
}

std::string serialize_stream_head(int status, const Headers& headers, const Framing& f) {
    if (status < 200 || status > 599 || status == 204 || status == 304) status = 500;
    std::string out;
    status_line(out, status);
    append_headers(out, headers);
    if (f.http_1_0) {
        out += "Connection: close\r\n";  // no chunked in 1.0: the close ends the body
    } else {
        out += "Transfer-Encoding: chunked\r\n";
        connection_header(out, f);
    }
    out += "\r\n";
    return out;
}

std::string encode_chunk(std::string_view data) {
    static const char hex[] = "0123456789abcdef";
    std::string size;
    for (std::size_t n = data.size(); n > 0; n >>= 4) size.insert(size.begin(), hex[n & 15]);
    if (size.empty()) size = "0";
    std::string out;
    out.reserve(size.size() + data.size() + 4);
    out += size;
    out += "\r\n";
    out += data;
    out += "\r\n";
    return out;
}

Response error_response(int status, std::string_view message) {
    return Response::json(nlohmann::json{{"error", message}}, status);
}

bool wants_close(const Headers& headers) {
    for (const Header& h : headers) {
        if (!iequals(h.name, "Connection")) continue;
        std::string_view v = h.value;
        while (!v.empty()) {
            std::size_t comma = v.find(',');
            std::string_view token = v.substr(0, comma);
            while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
            while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
            if (iequals(token, "close")) return true;
            if (comma == std::string_view::npos) break;
            v.remove_prefix(comma + 1);
        }
    }
    return false;
}

// ---- Exchange ---------------------------------------------------------------------

Exchange::Next Exchange::next() {
    Next n;
    using State = RequestParser::State;
    if (parser_.state() == State::need_more && pos_ < buf_.size()) {
        pos_ += parser_.feed(std::string_view(buf_).substr(pos_));
        if (pos_ == buf_.size()) {
            buf_.clear();
            pos_ = 0;
        } else if (pos_ >= 64 * 1024) {
            buf_.erase(0, pos_);  // keep the pipelined rest from growing the buffer forever
            pos_ = 0;
        }
    }
    switch (parser_.state()) {
    case State::need_more: n.kind = Next::Kind::need_more; break;
    case State::ready:
        n.kind = Next::Kind::request;
        n.request = parser_.take();
        break;
    case State::failed:
        n.kind = Next::Kind::reject;
        n.error = parser_.error();
        break;
    case State::closed: n.kind = Next::Kind::closed; break;
    }
    return n;
}

// ---- dispatch ---------------------------------------------------------------------

Dispatch dispatch(const Router& router, const ServerOptions& options, bool check_peer,
                  const std::optional<PeerCredentials>& peer, Request& request) {
    Dispatch d;
    request.peer = peer;
    if (check_peer && options.allow_peer) {
        bool allowed = false;
        try {
            allowed = peer.has_value() && options.allow_peer(*peer);
        } catch (...) {
            allowed = false;  // a throwing predicate refuses
        }
        if (!allowed) {
            d.response = error_response(403, "forbidden: this socket serves its owner and root only");
            d.close = true;
            return d;
        }
    }
    Router::Match m = router.match(request.method, request.target);
    switch (m.kind) {
    case Router::Match::Kind::not_found: d.response = error_response(404, "no such route: " + request.path); break;
    case Router::Match::Kind::method_not_allowed:
        d.response = error_response(405, request.method + " is not allowed here");
        d.response.headers.push_back({"Allow", std::move(m.allow)});
        break;
    case Router::Match::Kind::found:
        request.params = std::move(m.params);
        if (m.handler) {
            d.kind = Dispatch::Kind::plain;
            d.handler = m.handler;
        } else {
            d.kind = Dispatch::Kind::stream;
            d.stream = m.stream;
        }
        break;
    }
    return d;
}

}  // namespace reins::http::detail
