// .env files and Procfiles.
#include "config_harness.hpp"
#include "reins/config/envfile.hpp"

using reins::config::parse_env;
using reins::config::parse_procfile;
using reins::test::dump;
using reins::test::TempDir;

namespace {

std::map<std::string, std::string> env_of(const std::string& text) {
    auto r = parse_env(text, ".env");
    INFO(dump(r.diagnostics));
    CHECK(r.diagnostics.empty());
    std::map<std::string, std::string> out;
    for (const auto& e : r.entries) out[e.key] = e.value;
    return out;
}

}  // namespace

TEST_SUITE("envfile") {

TEST_CASE("KEY=VALUE, export, quotes, comments") {
    auto env = env_of(R"(# a comment
PLAIN=value
  SPACED = padded value   
export EXPORTED=1
EMPTY=
DQ="a \"quoted\" \$HOME\n\tnext"
SQ='literal $HOME \n'
HASH=a#b
INLINE=value # a comment
QUOTED_HASH="# not a comment" # but this is
EQUALS=a=b=c
MULTI="line one
line two"

LAST=no newline at the end)");
    CHECK(env["PLAIN"] == "value");
    CHECK(env["SPACED"] == "padded value");
    CHECK(env["EXPORTED"] == "1");
    CHECK(env["EMPTY"].empty());
    CHECK(env["DQ"] == "a \"quoted\" $HOME\n\tnext");
    CHECK(env["SQ"] == "literal $HOME \\n");
    CHECK(env["HASH"] == "a#b");
    CHECK(env["INLINE"] == "value");
    CHECK(env["QUOTED_HASH"] == "# not a comment");
    CHECK(env["EQUALS"] == "a=b=c");
    CHECK(env["MULTI"] == "line one\nline two");
    CHECK(env["LAST"] == "no newline at the end");
    CHECK(env.size() == 12);
}

TEST_CASE("nothing is executed or expanded") {
    auto env = env_of("A=$(touch /tmp/reins-should-not-exist)\nB=`id`\nC=${HOME}\n");
    CHECK(env["A"] == "$(touch /tmp/reins-should-not-exist)");
    CHECK(env["B"] == "`id`");
    CHECK(env["C"] == "${HOME}");
    CHECK_FALSE(std::filesystem::exists("/tmp/reins-should-not-exist"));
}

TEST_CASE("CRLF line ends, a BOM, a later key wins") {
    auto env = env_of("\xEF\xBB\xBF" "A=1\r\nB=\"2\"\r\nA=3\r\n");
    CHECK(env["A"] == "3");
    CHECK(env["B"] == "2");
}

TEST_CASE("bad lines are reported with line and column, the rest still read") {
    auto r = parse_env("GOOD=1\nno equals here\n1BAD=x\nexport  ALSO_GOOD=2\nQ=\"unterminated\n", "dev.env");
    INFO(dump(r.diagnostics));
    REQUIRE(r.diagnostics.size() == 3);
    CHECK(r.diagnostics[0].file == "dev.env");
    CHECK(r.diagnostics[0].line == 2);
    CHECK(r.diagnostics[0].column == 1);
    CHECK(r.diagnostics[0].message.find("expected KEY=VALUE") != std::string::npos);
    CHECK(r.diagnostics[1].line == 3);
    CHECK(r.diagnostics[1].message.find("variable name") != std::string::npos);
    CHECK(r.diagnostics[2].line == 5);
    CHECK(r.diagnostics[2].column == 3);
    CHECK(r.diagnostics[2].message.find("unterminated double quote") != std::string::npos);
    REQUIRE(r.entries.size() == 2);
    CHECK(r.entries[1].key == "ALSO_GOOD");
    auto tail = parse_env("A=\"x\" y\n", ".env");
    REQUIRE(tail.diagnostics.size() == 1);
    CHECK(tail.diagnostics[0].column == 7);
    // No diagnostic repeats what the file holds (it may be secrets).
    for (const auto& d : parse_env("tok3n-SECRET\n1SECRET=x\nA=\"SECRET\" SECRET\nB='SECRET\n", ".env").diagnostics)
        CHECK(d.message.find("SECRET") == std::string::npos);
}

TEST_CASE("an env_file error points into the env file, never showing its content") {
    TempDir dir("config");
    dir.write("app.env", "OK=1\noops-sk_live_SECRET\n");
    auto r = reins::config::load_toml("version = 1\n[service.a]\ncommand = \"a\"\nenv_file = \"app.env\"\n",
                                      dir / "reins.toml");
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.diagnostics.size() == 1);
    CHECK(r.diagnostics[0].file == dir / "app.env");
    CHECK(r.diagnostics[0].line == 2);
    CHECK(r.diagnostics[0].column == 1);
    CHECK(r.diagnostics[0].excerpt.empty());
    CHECK(r.diagnostics[0].message.find("SECRET") == std::string::npos);
}

TEST_CASE("an env_file that is not a regular file is refused, not read") {
    TempDir dir("config");
    std::filesystem::create_directory(dir / "folder.env");
    auto r = reins::config::load_toml("version = 1\n[service.a]\ncommand = \"a\"\nenv_file = \"folder.env\"\n",
                                      dir / "reins.toml");
    REQUIRE_FALSE(r.ok());
    CHECK(r.diagnostics[0].key == "service.a.env_file");
    CHECK(r.diagnostics[0].message.find("cannot read") != std::string::npos);
}

}  // TEST_SUITE

TEST_SUITE("procfile") {

TEST_CASE("name: command lines, comments, blank lines") {
    auto r = parse_procfile("# dev processes\nweb: bundle exec rails s -p $PORT\n\n  worker:   ./worker --queue=a:b  \nclock:./clock\n",
                            "Procfile");
    INFO(dump(r.diagnostics));
    REQUIRE(r.diagnostics.empty());
    REQUIRE(r.entries.size() == 3);
    CHECK(r.entries[0].name == "web");
    CHECK(r.entries[0].command == "bundle exec rails s -p $PORT");
    CHECK(r.entries[1].name == "worker");
    CHECK(r.entries[1].command == "./worker --queue=a:b");
    CHECK(r.entries[1].line == 4);
    CHECK(r.entries[2].command == "./clock");
}

TEST_CASE("bad Procfile lines") {
    auto r = parse_procfile("web ./x\nweb: a\nweb: b\nbad name: c\napi:\n", "Procfile");
    INFO(dump(r.diagnostics));
    REQUIRE(r.diagnostics.size() == 4);
    CHECK(r.diagnostics[0].line == 1);
    CHECK(r.diagnostics[0].message.find("expected `name: command`") != std::string::npos);
    CHECK(r.diagnostics[1].line == 3);
    CHECK(r.diagnostics[1].message.find("defined twice") != std::string::npos);
    CHECK(r.diagnostics[2].line == 4);
    CHECK(r.diagnostics[3].line == 5);
    CHECK(r.diagnostics[3].message.find("has no command") != std::string::npos);
}

TEST_CASE("services with foreman's ports and the .env beside the Procfile") {
    TempDir dir("config");
    dir.write(".env", "DATABASE_URL=postgres://localhost/dev\n");
    std::string text = "web: ./web\nworker: ./worker\napi: ./api\n";
    auto r = reins::config::load_procfile(text, dir / "Procfile");
    INFO(dump(r.diagnostics));
    REQUIRE(r.ok());
    REQUIRE(r.config.services.size() == 3);
    const auto& web = r.config.services[0];
    CHECK(web.port == reins::supervisor::PortSpec::fixed_port(5000));
    CHECK(r.config.services[1].port.port == 5100);
    CHECK(r.config.services[2].port.port == 5200);
    CHECK(web.cwd == dir.path);
    CHECK(web.env.at("DATABASE_URL") == "postgres://localhost/dev");
    CHECK(std::get<0>(web.command.value) == "./web");
    reins::config::LoadOptions o;
    o.port_base = 3000;
    auto based = reins::config::load_procfile(text, dir / "Procfile", o);
    CHECK(based.config.services[2].port.port == 3200);
    o.port_base = 65500;
    auto over = reins::config::load_procfile(text, dir / "Procfile", o);
    CHECK_FALSE(over.ok());
}

TEST_CASE("no .env is fine; an empty Procfile is not") {
    TempDir dir("config");
    CHECK(reins::config::load_procfile("web: x\n", dir / "Procfile").ok());
    auto empty = reins::config::load_procfile("# nothing\n", dir / "Procfile");
    CHECK_FALSE(empty.ok());
}

}  // TEST_SUITE
