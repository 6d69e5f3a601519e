// The fixture server binary (tools/fixture), which meson test names in
// REINS_FIXTURE.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

namespace reins::test {

inline std::string fixture_path() {
    const char* p = std::getenv("REINS_FIXTURE");
    REQUIRE_MESSAGE(p != nullptr, "REINS_FIXTURE is not set: run through meson test, which names the fixture binary");
    return p;
}

}  // namespace reins::test
