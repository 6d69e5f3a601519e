// The one doctest main of every unit test binary.
#define DOCTEST_CONFIG_IMPLEMENT
#define DOCTEST_CONFIG_NO_POSIX_SIGNALS  // the runtime watches signals itself
#include <doctest/doctest.h>

#include <csignal>

#include <uv.h>

int main(int argc, char** argv) {
    // What every reins executable does first: no fd leaks into children, and
    // a write to a reset socket is an error value, not a fatal signal.
    uv_disable_stdio_inheritance();
    std::signal(SIGPIPE, SIG_IGN);
    return doctest::Context(argc, argv).run();
}
