// reins' runtime alone: a coroutine that sleeps on the loop's timer.
#include <chrono>
#include <cstdio>

#include "reins/async/loop.hpp"
#include "reins/async/task.hpp"
#include "reins/async/timer.hpp"

using namespace std::chrono_literals;

static reins::Task<bool> nap() {
    auto slept = co_await reins::sleep(20ms);
    co_return bool(slept);
}

int main() {
    reins::Loop loop;
    const bool ok = loop.run(nap());
    if (!ok || !loop.close()) return 1;
    std::printf("slept on the reins runtime\n");
    return 0;
}
