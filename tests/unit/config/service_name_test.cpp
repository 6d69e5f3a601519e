// Service names, and how text that may be any bytes is shown in a message.
#include "config_harness.hpp"
#include "reins/config/service_name.hpp"
#include "reins/config/text.hpp"

using namespace reins::config;

TEST_SUITE("names") {

TEST_CASE("what a service name is") {
    const std::string longest(64, 'n');
    for (std::string_view ok : {std::string_view("web"), std::string_view("a"), std::string_view("api-2"),
                                std::string_view("db_main"), std::string_view("v1.2"), std::string_view("9lives"),
                                std::string_view(longest)})
        CHECK_MESSAGE(is_service_name(ok), std::string(ok));
    for (std::string bad : {std::string(), std::string(65, 'n'), std::string("-web"), std::string(".hidden"),
                            std::string("a/b"), std::string(".."), std::string("a b"), std::string("a\tb"),
                            std::string("caf\xc3\xa9"), std::string("\xff"), std::string("a\0b", 3)})
        CHECK_FALSE_MESSAGE(is_service_name(bad), quote_bytes(bad));
}

TEST_CASE("an invalid name: a message with the rule and the name escaped") {
    auto why = [](std::string_view name) {
        auto r = check_service_name(name);
        REQUIRE_FALSE(r);
        CHECK(r.error().is(reins::Errc::config));
        return r.error().context;
    };
    CHECK(check_service_name("web"));
    CHECK(why("\xff") == "invalid service name \"\\xff\" (a service name is 1-64 letters, digits, '-', '_' or '.', "
                         "starting with a letter or digit)");
    CHECK(why("a/b").find("\"a/b\"") != std::string::npos);
    CHECK(why("").find("\"\"") != std::string::npos);
    CHECK(why("x\xfe\xff\ty").find("\"x\\xfe\\xff\\ty\"") != std::string::npos);
    std::string long_one = why(std::string(1000, 'n'));
    CHECK(long_one.size() < 200);  // bounded
}

TEST_CASE("quote_bytes: valid UTF-8 kept, anything else as \\xHH") {
    CHECK(quote_bytes("plain") == "\"plain\"");
    CHECK(quote_bytes("caf\xc3\xa9") == "\"caf\xc3\xa9\"");
    CHECK(quote_bytes("\xff\xfe") == "\"\\xff\\xfe\"");
    CHECK(quote_bytes("half \xe2\x82") == "\"half \\xe2\\x82\"");
    CHECK(quote_bytes("\xc0\xaf") == "\"\\xc0\\xaf\"");          // overlong '/'
    CHECK(quote_bytes("\xed\xa0\x80") == "\"\\xed\\xa0\\x80\"");  // a surrogate
    CHECK(quote_bytes(std::string("nul\0", 4)) == "\"nul\\u0000\"");
    CHECK(quote("\xff") == "\"\xff\"");  // quote() keeps bytes (TOML text)
}

TEST_CASE("utf8_sequence and is_utf8") {
    CHECK(utf8_sequence("a") == 1);
    CHECK(utf8_sequence("\xc3\xa9") == 2);
    CHECK(utf8_sequence("\xe2\x9c\x93") == 3);
    CHECK(utf8_sequence("\xf0\x9f\x98\x80") == 4);
    CHECK(utf8_sequence("\xf4\x90\x80\x80") == 0);  // past U+10FFFF
    CHECK(utf8_sequence("\x80") == 0);
    CHECK(utf8_sequence("\xe2\x9c") == 0);
    CHECK(utf8_sequence("") == 0);
    CHECK(is_utf8(""));
    CHECK(is_utf8("caf\xc3\xa9 \xe2\x9c\x93"));
    CHECK_FALSE(is_utf8("caf\xe9"));
}

}  // TEST_SUITE
