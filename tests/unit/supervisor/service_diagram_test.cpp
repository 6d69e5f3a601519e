// The drawings of the service states in docs/engine.md and docs/design.md,
// traced arrow by arrow and compared with the table (service_machine.cpp):
// a drawing cannot show an edge the table lacks, nor leave one out unless
// the text beside it names it.
#include <doctest/doctest.h>

#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "doc_block.hpp"
#include "reins/supervisor/service_machine.hpp"

using namespace reins::supervisor;

namespace {

using Edge = std::pair<std::string, std::string>;  // from, to: state names

// The drawing's lines as code points, so that a column is one character.
std::vector<std::u32string> grid_of(const std::string& text) {
    std::vector<std::u32string> rows(1);
    for (std::size_t i = 0; i < text.size();) {
        auto lead = static_cast<unsigned char>(text[i]);
        if (lead == '\n') {
            rows.emplace_back();
            ++i;
            continue;
        }
        std::size_t len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
        char32_t cp = len == 1 ? lead : lead & (0x3F >> (len - 1));
        for (std::size_t k = 1; k < len && i + k < text.size(); ++k)
            cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
        rows.back() += cp;
        i += len;
    }
    return rows;
}

// Follows the arrows of a box drawing: from a state's name, a line to the
// right (─, labels may sit on it) or down from under the name (│, then ▼ onto
// a name, or └ turning right), to an arrowhead (▶ or ▼) and the name it
// points at ("?" when it points at no state).
class Drawing {
public:
    explicit Drawing(const std::string& text) : rows_(grid_of(text)) {
        for (std::size_t r = 0; r < rows_.size(); ++r)
            for (ServiceState s : all_states) {
                const std::string name(to_string(s));
                const std::u32string wide(name.begin(), name.end());
                for (auto at = rows_[r].find(wide); at != std::u32string::npos; at = rows_[r].find(wide, at + 1))
                    if (!is_letter(at_(r, at - 1)) && !is_letter(at_(r, at + wide.size())))
                        names_.push_back({name, r, at, at + wide.size()});
            }
    }

    std::set<Edge> edges() const {
        std::set<Edge> out;
        for (const Name& n : names_) {
            std::size_t c = n.end;
            while (at_(n.row, c) == U' ') ++c;
            if (at_(n.row, c) == U'─') out.insert({n.state, along(n.row, c)});
            for (c = n.begin; c < n.end; ++c)
                if (at_(n.row + 1, c) == U'│') out.insert({n.state, down(n.row + 1, c)});
        }
        return out;
    }

private:
    struct Name {
        std::string state;
        std::size_t row, begin, end;
    };

    static bool is_letter(char32_t ch) { return (ch >= U'a' && ch <= U'z') || ch == U'_'; }

    // U'\0' past the end of a line or the drawing.
    char32_t at_(std::size_t r, std::size_t c) const {
        return r < rows_.size() && c < rows_[r].size() ? rows_[r][c] : U'\0';
    }

    std::string name_at(std::size_t r, std::size_t c) const {
        for (const Name& n : names_)
            if (n.row == r && n.begin <= c && c < n.end) return n.state;
        return "?";
    }

    std::string along(std::size_t r, std::size_t c) const {
        while (c < rows_[r].size() && at_(r, c) != U'▶') ++c;
        if (c >= rows_[r].size()) return "?";
        ++c;
        while (at_(r, c) == U' ') ++c;
        return name_at(r, c);
    }

    std::string down(std::size_t r, std::size_t c) const {
        while (at_(r, c) == U'│') ++r;
        if (at_(r, c) == U'▼') return name_at(r + 1, c);
        if (at_(r, c) == U'└') return along(r, c + 1);
        return "?";
    }

    std::vector<std::u32string> rows_;
    std::vector<Name> names_;
};

// The table's edges, from the list render_service_edges() makes of them.
std::set<Edge> table_edges() {
    std::set<Edge> out;
    std::istringstream lines(render_service_edges());
    for (std::string line; std::getline(lines, line);) {
        auto arrow = line.find(" -> ");
        auto colon = line.find(':');
        if (arrow != std::string::npos && colon != std::string::npos)
            out.insert({line.substr(0, arrow), line.substr(arrow + 4, colon - arrow - 4)});
    }
    return out;
}

// Runs of white space as one space: a name in backquotes may wrap.
std::string one_line(const std::string& text) {
    std::string out;
    for (char ch : text) {
        bool space = ch == ' ' || ch == '\n';
        if (space && !out.empty() && out.back() == ' ') continue;
        out += space ? ' ' : ch;
    }
    return out;
}

}  // namespace

TEST_SUITE("service_machine") {
    TEST_CASE("the tracer follows lines right, down and round a corner, past labels") {
        const std::string drawing =
            "stopped ──start──▶ starting\n"
            "   │ label            │\n"
            "   ▼                  └──▶ failed\n"
            "running\n";
        CHECK(Drawing(drawing).edges() ==
              std::set<Edge>{{"stopped", "starting"}, {"stopped", "running"}, {"starting", "failed"}});
        CHECK(Drawing("failed ──▶ nowhere\n").edges() == std::set<Edge>{{"failed", "?"}});
    }

    TEST_CASE("the drawings in docs/engine.md and docs/design.md show the table's edges") {
        const std::set<Edge> table = table_edges();
        REQUIRE(table.size() > 0);
        for (const std::string path : {"docs/engine.md", "docs/design.md"}) {
            CAPTURE(path);
            const std::string doc = reins::test::source_file(path);
            const std::string drawing = reins::test::block_after(doc, "<!-- service diagram:");
            INFO("the drawing (after \"<!-- service diagram:\"):\n", drawing);
            const std::set<Edge> drawn = Drawing(drawing).edges();
            REQUIRE(drawn.size() > 0);
            for (const Edge& e : drawn) {
                CAPTURE(e.first);
                CAPTURE(e.second);
                CHECK_MESSAGE(table.count(e) == 1, "drawn, but not an edge of the table");
            }
            const std::string text = one_line(doc);
            for (const Edge& e : table) {
                if (drawn.count(e)) continue;
                CAPTURE(e.first);
                CAPTURE(e.second);
                CHECK_MESSAGE(text.find("`" + e.first + " → " + e.second + "`") != std::string::npos,
                              "an edge of the table neither drawn nor named as `from → to`");
            }
        }
    }
}
