// The fixture started with a REINS_INSTANCE tag of its own, for the tests of
// how reins finds a service's processes (process_tree, shared_scan).
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fixture.hpp"
#include "reins/async/process.hpp"
#include "reins/async/stream.hpp"
#include "reins/async/task.hpp"

extern char** environ;

namespace reins::test {

/// An instance id no other process on the machine carries ("<what>-<pid>-<n>-<time>").
inline std::string unique_instance(std::string_view what) {
    static std::atomic<int> n{0};
    return std::string(what) + "-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

/// Our environment, with REINS_INSTANCE replaced by `instance` (or removed).
inline std::vector<std::string> env_with_instance(const std::string& instance) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e)
        if (std::string_view(*e).rfind("REINS_INSTANCE=", 0) != 0) env.emplace_back(*e);
    if (!instance.empty()) env.push_back("REINS_INSTANCE=" + instance);
    return env;
}

/// The fixture (--no-listen plus `flags`) carrying REINS_INSTANCE=`instance`.
inline Result<Process> spawn_fixture(const std::string& instance, std::vector<std::string> flags) {
    ProcessOptions o;
    o.argv = {fixture_path(), "--no-listen"};
    for (auto& f : flags) o.argv.push_back(std::move(f));
    o.env = env_with_instance(instance);
    o.err = Stdio::inherit;
    return Process::spawn(std::move(o));
}

/// The pid P of the fixture's "fixture: grandchild pid P listening on ..." line (0 at EOF).
inline Task<pid_t> read_grandchild_pid(Stream* out) {
    static constexpr std::string_view tag = "fixture: grandchild pid ";
    std::string text;
    for (;;) {
        auto pos = text.find(tag);
        if (pos != std::string::npos && text.find('\n', pos) != std::string::npos)
            co_return static_cast<pid_t>(std::atoi(text.c_str() + pos + tag.size()));
        auto r = co_await out->read();
        if (!r) co_return 0;
        text.append(*r);
    }
}

}  // namespace reins::test
