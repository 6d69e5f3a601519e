// Helpers of the process tests: children's groups killed whatever happens,
// the options of a command or a shell script, and reading a child's output.
#pragma once

#include <signal.h>

#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "reins/async/process.hpp"

namespace reins::test {

// SIGKILLs a new-session child's whole process group when the test scope
// ends, even when a check failed or threw. Only for new_session children
// (pgid == their pid): never reins' own group. The group id cannot be reused
// while any member lives, and once the group is empty kill() is ESRCH.
struct GroupGuard {
    int pgid = 0;
    GroupGuard() = default;
    explicit GroupGuard(int p) : pgid(p) {}
    GroupGuard(const GroupGuard&) = delete;
    GroupGuard& operator=(const GroupGuard&) = delete;
    ~GroupGuard() {
        if (pgid > 1) ::kill(-pgid, SIGKILL);
    }
};

inline ProcessOptions sh(std::string script) {
    ProcessOptions o;
    o.argv = {"/bin/sh", "-c", std::move(script)};
    return o;
}

inline ProcessOptions cmd(std::vector<std::string> argv) {
    ProcessOptions o;
    o.argv = std::move(argv);
    return o;
}

/// Everything the stream delivers until end of stream.
inline Task<std::string> read_all(Stream* s) {
    std::string out;
    for (;;) {
        auto r = co_await s->read();
        if (!r) {
            CHECK_MESSAGE(r.error().is(Errc::end_of_stream), r.error().message());
            break;
        }
        out.append(*r);
    }
    co_return out;
}

/// What a child wrote to its stdout and to its stderr, each read to its end,
/// and how it exited.
struct ChildOutput {
    std::string out;
    std::string err;
    Result<ExitStatus> exit = fail(Errc::timeout);
};

inline Task<ChildOutput> read_outputs_and_wait(Process* p, Stream* out, Stream* err) {
    ChildOutput got;
    got.out = co_await read_all(out);
    got.err = co_await read_all(err);
    got.exit = co_await p->wait();
    co_return got;
}

inline bool has_code(const Error& e, int uv_code) { return e.code == uv_error(uv_code).code; }

}  // namespace reins::test
