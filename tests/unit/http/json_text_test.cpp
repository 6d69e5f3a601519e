// json_text: JSON from bytes that are not UTF-8 is valid UTF-8 (U+FFFD for
// each bad byte) and writing it never throws.
#include <doctest/doctest.h>

#include <string>

#include "reins/http/json_text.hpp"
#include "reins/http/message.hpp"

using nlohmann::json;
using reins::http::json_text;

TEST_SUITE("json_text") {

TEST_CASE("bytes that are not UTF-8 become U+FFFD, the rest is kept") {
    json j;
    j["status_text"] = std::string("\xff\xfe bad");
    j["line"] = std::string("nul \0 in", 8);
    j["cut"] = std::string("half \xe2\x82");
    j["ok"] = "caf\xc3\xa9 \xe2\x9c\x93";
    std::string text;
    REQUIRE_NOTHROW(text = json_text(j));
    CHECK(text.find("\"status_text\":\"\xEF\xBF\xBD\xEF\xBF\xBD bad\"") != std::string::npos);
    CHECK(text.find(R"("line":"nul \u0000 in")") != std::string::npos);
    CHECK(text.find("\"cut\":\"half \xEF\xBF\xBD") != std::string::npos);
    CHECK(text.find("\"ok\":\"caf\xc3\xa9 \xe2\x9c\x93\"") != std::string::npos);
    // What it wrote parses again (nlohmann's parser refuses invalid UTF-8).
    json back = json::parse(text, nullptr, false);
    REQUIRE_FALSE(back.is_discarded());
    CHECK(back["status_text"] == "\xEF\xBF\xBD\xEF\xBF\xBD bad");
    CHECK_THROWS(j.dump());  // what every dump() used to do
}

TEST_CASE("indent: compact or pretty") {
    json j = {{"a", 1}};
    CHECK(json_text(j) == R"({"a":1})");
    CHECK(json_text(j, 2) == "{\n  \"a\": 1\n}");
}

TEST_CASE("an API reply with stray bytes is a JSON reply, not an exception") {
    reins::http::Response r;
    REQUIRE_NOTHROW(r = reins::http::Response::json(json{{"error", std::string("no service called '\xff'")}}, 404));
    CHECK(r.status == 404);
    CHECK(r.body == "{\"error\":\"no service called '\xEF\xBF\xBD'\"}\n");
}

}  // TEST_SUITE
