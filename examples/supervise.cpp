// A small supervisor written on the reins runtime alone: it runs a command,
// prefixes its output lines, restarts it with exponential backoff when it
// fails, gives up after --restarts failures, and on Ctrl-C / SIGTERM stops
// it with SIGTERM to its process group, then SIGKILL after a grace time.
//
//   reins-example-supervise [--restarts N] [--grace MS] [--name NAME] [-- COMMAND ARG...]
//
// With no command it runs a demo that prints, crashes and is restarted.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

#include "reins/async/channel.hpp"
#include "reins/async/line_reader.hpp"
#include "reins/async/process.hpp"
#include "reins/async/signal_set.hpp"
#include "reins/async/when.hpp"

using namespace reins;
using namespace std::chrono_literals;

namespace {

struct Options {
    std::vector<std::string> argv;
    std::string name;
    int restarts = 3;
    std::chrono::milliseconds grace = 2s;
};

bool g_color = false;

void print_line(const std::string& name, bool err, const std::string& text) {
    // One fwrite a line: lines of the two pipes never interleave mid-line.
    std::string out = name + (g_color && err ? " \x1b[31m|\x1b[0m " : " | ") + text + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
}

void say(const std::string& what) { std::fprintf(stderr, "supervise: %s\n", what.c_str()); }

// Copies one pipe's lines to stdout; tells `done` when the pipe is closed.
Task<void> pump(Stream pipe, std::string name, bool err, Channel<int>* done, std::stop_token stop) {
    LineReader lines(pipe);
    for (;;) {
        auto line = co_await lines.next(stop);
        if (!line) break;
        print_line(name, err, line->text);
    }
    (void)done->try_send(1);
}

// SIGTERM (+ SIGCONT) to the group, SIGKILL after the grace time; returns once reaped.
Task<ExitStatus> stop_child(Process& proc, std::chrono::milliseconds grace) {
    (void)proc.signal_group(SIGTERM);
    (void)proc.signal_group(SIGCONT);  // a stopped process must run to see SIGTERM
    auto wait_exit = [&](std::stop_token s) { return proc.wait(s); };
    auto status = co_await with_timeout(grace, {}, wait_exit);
    if (!status) {
        say("pid " + std::to_string(proc.pid()) + " ignored SIGTERM for " + std::to_string(grace.count()) +
            "ms: sending SIGKILL");
        (void)proc.signal_group(SIGKILL);
        status = co_await proc.wait();
    }
    (void)proc.signal_group(SIGKILL);  // anything left in the group
    co_return *status;
}

Task<int> supervise(Options opt) {
    auto signals = SignalSet::create({SIGINT, SIGTERM});
    if (!signals) {
        say(signals.error().message());
        co_return 3;
    }
    int failures = 0;
    for (;;) {
        auto started = std::chrono::steady_clock::now();
        ProcessOptions po;
        po.argv = opt.argv;
        auto proc = Process::spawn(std::move(po));
        if (!proc) {
            say(proc.error().message() + " — check the command and PATH");
            co_return 3;
        }
        say("started " + opt.name + " (pid " + std::to_string(proc->pid()) + ")");

        Channel<int> drained(2);
        TaskScope pumps = TaskScope::shielded();
        pumps.spawn(pump(proc->take_stdout(), opt.name, false, &drained, pumps.token()));
        pumps.spawn(pump(proc->take_stderr(), opt.name, true, &drained, pumps.token()));

        // Lambdas as named locals, never inside a co_await's full-expression (g++ 12).
        auto wait_exit = [&](std::stop_token s) { return proc->wait(s); };
        auto wait_signal = [&](std::stop_token s) { return signals->next(s); };
        auto event = co_await when_any(std::stop_token{}, wait_exit, wait_signal);

        int rc = -1;
        if (event.index() == 1) {
            say("got signal " + std::to_string(*std::get<1>(event)) + ": stopping " + opt.name);
            auto st = co_await stop_child(*proc, opt.grace);
            say(opt.name + " stopped (" + (st.signal ? "signal " + std::to_string(st.signal)
                                                     : "exit " + std::to_string(st.code)) + ")");
            rc = 0;
        }
        // Let the pumps reach end of stream (a grandchild may hold the pipes).
        for (int i = 0; i < 2; ++i) {
            auto recv = [&](std::stop_token s) { return drained.recv(s); };
            auto d = co_await with_timeout(500ms, {}, recv);
            if (!d) break;
        }
        pumps.request_stop();
        co_await pumps.join();
        if (rc >= 0) co_return rc;

        ExitStatus st = *std::get<0>(event);
        if (st.success()) {
            say(opt.name + " exited cleanly");
            co_return 0;
        }
        // A child that stayed up for a minute starts the count afresh.
        if (std::chrono::steady_clock::now() - started > 60s) failures = 0;
        ++failures;
        say(opt.name + " failed (" + (st.signal ? "signal " + std::to_string(st.signal)
                                              : "exit " + std::to_string(st.code)) + ")");
        if (failures > opt.restarts) {
            say("giving up after " + std::to_string(opt.restarts) + " restarts (circuit open)");
            co_return 3;
        }
        auto delay = std::min<std::chrono::milliseconds>(100ms * (1 << std::min(failures - 1, 10)), 5s);
        say("restart " + std::to_string(failures) + "/" + std::to_string(opt.restarts) + " in " +
            std::to_string(delay.count()) + "ms");
        auto backoff = [&](std::stop_token s) { return sleep(delay, s); };
        auto woke = co_await when_any(std::stop_token{}, backoff, wait_signal);
        if (woke.index() == 1) co_return 0;
    }
}

int usage() {
    std::fputs("usage: reins-example-supervise [--restarts N] [--grace MS] [--name NAME] [-- COMMAND ARG...]\n",
               stderr);
    return 3;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    uv_disable_stdio_inheritance();
    g_color = isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");

    Options opt;
    int i = 1;
    try {
        for (; i < argc; ++i) {
            std::string a = argv[i];
            if (a == "--") {
                ++i;
                break;
            }
            if (i + 1 >= argc) return usage();
            if (a == "--restarts") opt.restarts = std::stoi(argv[++i]);
            else if (a == "--grace") opt.grace = std::chrono::milliseconds(std::stoi(argv[++i]));
            else if (a == "--name") opt.name = argv[++i];
            else return usage();
        }
    } catch (const std::exception&) {
        return usage();
    }
    for (; i < argc; ++i) opt.argv.emplace_back(argv[i]);
    if (opt.argv.empty()) {
        opt.argv = {"/bin/sh", "-c",
                    "echo \"hello from pid $$\"; sleep 0.5; echo 'about to crash' >&2; exit 3"};
        if (opt.name.empty()) opt.name = "demo";
        opt.restarts = 2;
    }
    if (opt.name.empty()) {
        auto slash = opt.argv[0].rfind('/');
        opt.name = slash == std::string::npos ? opt.argv[0] : opt.argv[0].substr(slash + 1);
    }

    Loop loop;
    int rc = loop.run(supervise(std::move(opt)));
    auto closed = loop.close();
    if (!closed) {
        say(closed.error().message());
        return 3;
    }
    return rc;
}
