// TempDir: a fresh folder under /tmp for one test, removed with everything in
// it. /tmp rather than $TMPDIR keeps socket paths short enough for sun_path.
#pragma once

#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

namespace reins::test {

struct TempDir {
    std::string path;

    /// `tag` names the folder (/tmp/reins-<tag>-XXXXXX) so a leftover says
    /// which test made it.
    explicit TempDir(const std::string& tag = "test") {
        std::string tmpl = "/tmp/reins-" + tag + "-XXXXXX";
        REQUIRE_MESSAGE(::mkdtemp(tmpl.data()) != nullptr, ("mkdtemp " + tmpl));
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    /// `name` inside the folder.
    std::string operator/(const std::string& name) const { return path + "/" + name; }

    /// Writes `text` to `name` (creating folders); returns its path.
    std::string write(const std::string& name, const std::string& text) const {
        std::string p = *this / name;
        std::filesystem::create_directories(std::filesystem::path(p).parent_path());
        std::ofstream(p, std::ios::binary) << text;
        return p;
    }
    /// The contents of `name` ("" when it cannot be read).
    std::string read(const std::string& name) const {
        std::ifstream f(*this / name, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(f), {});
    }
};

}  // namespace reins::test
