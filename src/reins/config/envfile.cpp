#include "reins/config/envfile.hpp"

#include "reins/config/config.hpp"
#include "reins/config/text.hpp"

namespace reins::config {
namespace {

bool blank(char c) { return c == ' ' || c == '\t'; }

/// Walks text keeping line and column (1-based, in bytes).
class Cursor {
public:
    explicit Cursor(std::string_view text) : text_(text) {}
    bool done() const { return i_ >= text_.size(); }
    char peek() const { return done() ? '\0' : text_[i_]; }
    char next() {
        char c = text_[i_++];
        if (c == '\n') {
            ++line_;
            col_ = 1;
        } else {
            ++col_;
        }
        return c;
    }
    void skip_blanks() {
        while (!done() && blank(peek())) next();
    }
    /// The rest of the current line (without '\n' or a trailing '\r'); stays before the '\n'.
    std::string_view rest_of_line() {
        std::size_t e = text_.find('\n', i_);
        if (e == std::string_view::npos) e = text_.size();
        std::string_view r = text_.substr(i_, e - i_);
        col_ += static_cast<int>(e - i_);
        i_ = e;
        if (!r.empty() && r.back() == '\r') r.remove_suffix(1);
        return r;
    }
    void skip_line() {
        (void)rest_of_line();
        if (!done()) next();
    }
    int line() const { return line_; }
    int col() const { return col_; }

private:
    std::string_view text_;
    std::size_t i_ = 0;
    int line_ = 1;
    int col_ = 1;
};

}  // namespace

// An env file holds secrets, and the file named may not be the one meant
// (a shadow file, a key): its diagnostics say where, never what is there.
EnvParse parse_env(std::string_view text, const std::string& file) {
    EnvParse out;
    auto error = [&](int line, int col, std::string msg) {
        out.diagnostics.push_back(Diagnostic{Severity::error, file, line, col, {}, std::move(msg), {}, {}});
    };
    Cursor c(text);
    if (text.substr(0, 3) == "\xEF\xBB\xBF") { for (int i = 0; i < 3; ++i) c.next(); }
    while (!c.done()) {
        c.skip_blanks();
        if (c.peek() == '#' || c.peek() == '\n' || c.peek() == '\r' || c.done()) {
            c.skip_line();
            continue;
        }
        int line = c.line(), col = c.col();
        // KEY, possibly after `export `.
        std::string key;
        while (!c.done() && c.peek() != '=' && c.peek() != '\n' && !blank(c.peek())) key += c.next();
        if (key == "export" && blank(c.peek())) {
            c.skip_blanks();
            col = c.col();
            key.clear();
            while (!c.done() && c.peek() != '=' && c.peek() != '\n' && !blank(c.peek())) key += c.next();
        }
        c.skip_blanks();
        if (c.peek() != '=') {
            error(line, col, "expected KEY=VALUE, export KEY=VALUE or a # comment");
            c.skip_line();
            continue;
        }
        if (!is_env_name(key)) {
            error(line, col, "expected a variable name before '=' (letters, digits and _, not starting with a digit)");
            c.skip_line();
            continue;
        }
        c.next();  // '='
        c.skip_blanks();
        std::string value;
        char q = c.peek();
        if (q == '"' || q == '\'') {
            int qline = c.line(), qcol = c.col();
            c.next();
            bool closed = false;
            while (!c.done()) {
                char ch = c.next();
                if (ch == q) {
                    closed = true;
                    break;
                }
                if (q == '"' && ch == '\\' && !c.done()) {
                    char e = c.next();
                    switch (e) {
                    case 'n': value += '\n'; break;
                    case 'r': value += '\r'; break;
                    case 't': value += '\t'; break;
                    case '"': case '\\': case '$': value += e; break;
                    default: value += '\\'; value += e;
                    }
                    continue;
                }
                value += ch;
            }
            if (!closed) {
                error(qline, qcol, std::string("unterminated ") + (q == '"' ? "double" : "single") +
                                       " quote: the value opened here is never closed");
                break;
            }
            c.skip_blanks();
            int tail_col = c.col();
            std::string_view tail = c.rest_of_line();
            if (!tail.empty() && tail.front() != '#') {
                error(c.line(), tail_col, "unexpected text after the closing quote (only a # comment may follow)");
                c.skip_line();
                continue;
            }
        } else {
            std::string_view raw = c.rest_of_line();
            // An unquoted value ends at a " #" comment.
            for (std::size_t i = 0; i < raw.size(); ++i) {
                if (raw[i] == '#' && i > 0 && blank(raw[i - 1])) {
                    raw = raw.substr(0, i);
                    break;
                }
            }
            while (!raw.empty() && blank(raw.back())) raw.remove_suffix(1);
            value = std::string(raw);
        }
        if (value.find('\0') != std::string::npos) {
            error(line, col, "the value contains a NUL character");
        } else {
            out.entries.push_back(EnvEntry{std::move(key), std::move(value), line});
        }
        c.skip_line();
    }
    return out;
}

ProcfileParse parse_procfile(std::string_view text, const std::string& file) {
    ProcfileParse out;
    auto error = [&](int line, int col, std::string msg, std::string hint = {}) {
        out.diagnostics.push_back(Diagnostic{Severity::error, file, line, col, {}, std::move(msg), std::move(hint), {}});
    };
    Cursor c(text);
    while (!c.done()) {
        c.skip_blanks();
        int line = c.line(), col = c.col();
        std::string_view l = c.rest_of_line();
        if (!c.done()) c.next();
        if (l.empty() || l.front() == '#') continue;
        if (l.find('\0') != std::string_view::npos) {
            error(line, col, "a Procfile line cannot contain a NUL character");
            continue;
        }
        auto colon = l.find(':');
        std::string_view name = l.substr(0, colon);
        while (!name.empty() && blank(name.back())) name.remove_suffix(1);
        if (colon == std::string_view::npos || name.empty()) {
            error(line, col, "expected `name: command`, found " + quote(l));
            continue;
        }
        if (!is_service_name(name)) {
            error(line, col, "expected a process name of letters, digits, '-', '_' or '.', found " + quote(name));
            continue;
        }
        std::size_t cmd_at = colon + 1;
        while (cmd_at < l.size() && blank(l[cmd_at])) ++cmd_at;
        std::string_view cmd = l.substr(cmd_at);
        while (!cmd.empty() && blank(cmd.back())) cmd.remove_suffix(1);
        if (cmd.empty()) {
            error(line, col + static_cast<int>(colon) + 1, "process " + quote(name) + " has no command");
            continue;
        }
        bool dup = false;
        for (const auto& e : out.entries)
            if (e.name == name) dup = true;
        if (dup) {
            error(line, col, "process " + quote(name) + " is defined twice", "rename one of them");
            continue;
        }
        out.entries.push_back(ProcfileEntry{std::string(name), std::string(cmd), line, col + static_cast<int>(cmd_at)});
    }
    return out;
}

}  // namespace reins::config
