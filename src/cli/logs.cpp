// reins logs [SERVICE...] [-f] [-n N]: print (and follow) captured output
// (docs/cli.md, Logs). Reads the log files directly, so it works whether or not a
// supervisor is running, and after it is gone.
#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <dirent.h>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <variant>
#include <vector>

#include "cli/cli.hpp"
#include "reins/async/loop.hpp"
#include "reins/async/signal_set.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/async/timer.hpp"
#include "reins/config/config.hpp"
#include "reins/control/log_file.hpp"
#include "reins/control/log_reader.hpp"
#include "reins/control/state_paths.hpp"

namespace reins::cli {
namespace {

/// One service's log.
struct LogSource {
    std::string name;
    std::string path;
    int keep = 5;
};

/// -n: a non-negative whole number (default 100).
std::optional<std::size_t> lines_wanted(const Args& args, Output& out) {
    if (!args.has("lines")) return 100;
    std::string v = args.get("lines");
    std::size_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
        out.error("-n/--lines: expected a whole number of lines (0 or more), found \"" + v + "\"",
                  "for example: reins logs -n 50");
        return std::nullopt;
    }
    return n;
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

/// NAME of every logs/NAME.log in the state directory but reins.log, sorted.
std::vector<std::string> logged_services(const control::StatePaths& paths) {
    std::vector<std::string> names;
    DIR* d = ::opendir(paths.logs().c_str());
    if (!d) return names;
    while (auto* e = ::readdir(d)) {
        std::string f = e->d_name;
        if (f.size() <= 4 || f.compare(f.size() - 4, 4, ".log") != 0 || f == "reins.log") continue;
        std::string name = f.substr(0, f.size() - 4);
        if (config::is_service_name(name)) names.push_back(name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

std::string listed(const std::vector<std::string>& names) {
    std::string out;
    for (std::size_t i = 0; i < names.size() && i < 10; ++i) out += (i ? ", " : "") + names[i];
    if (names.size() > 10) out += ", ...";
    return out;
}

/// The logs to print: the services named, else every service of the config,
/// else every log in the state directory. Exit code when there are none.
std::variant<std::vector<LogSource>, int> find_sources(const Args& args, Output& out) {
    auto place = find_place(args, out, false);
    if (!place) return exit_failure;
    control::StatePaths paths{place->state_dir};
    std::optional<config::Config> cfg;
    if (!place->config.empty()) {
        auto loaded = config::load_file(place->config);
        if (loaded.ok()) {
            cfg = std::move(loaded.config);
        } else if (args.has("config")) {
            out.error(loaded.error().message(), "fix " + place->config + " (see: reins check), then run reins logs again");
            return exit_failure;
        } else {
            out.say("warning: " + place->config + " has errors; showing the logs found in " + paths.logs() +
                    " (see: reins check)");
        }
    }
    std::vector<std::string> known = logged_services(paths);
    if (cfg) {
        known.clear();
        for (const auto& s : cfg->services) known.push_back(s.name);
    }
    auto source_of = [&](const std::string& name) -> std::optional<LogSource> {
        if (cfg) {
            if (const auto* spec = cfg->find(name))
                return LogSource{name, paths.log_file(name, spec->logs.file), spec->logs.keep};
        }
        // Not in the config (e.g. `reins start --name X -- CMD`): its log if there is one.
        if (config::is_service_name(name) && exists(paths.log_file(name))) return LogSource{name, paths.log_file(name), 5};
        return std::nullopt;
    };
    std::vector<LogSource> sources;
    std::vector<std::string> names = args.positional.empty() ? known : args.positional;
    for (const auto& name : names) {
        if (std::any_of(sources.begin(), sources.end(), [&](const LogSource& s) { return s.name == name; })) continue;
        auto src = source_of(name);
        if (!src) {
            std::string hint = known.empty() ? "no service has logged anything in " + paths.logs() + " yet"
                                             : "services: " + listed(known);
            out.error("no service called '" + name + "'", hint);
            return exit_not_found;
        }
        sources.push_back(std::move(*src));
    }
    if (sources.empty()) {
        out.error("no logs in " + paths.logs(),
                  "start a service first (reins start), or name the state directory with --state-dir DIR");
        return exit_not_found;
    }
    return sources;
}

/// "api  | " for a name column `width` wide.
std::string prefix_of(const std::string& name, std::size_t width) {
    std::string p = name;
    if (p.size() < width) p.append(width - p.size(), ' ');
    return p + " | ";
}

/// Follows one log, printing its new lines, until the scope stops.
Task<void> follow_one(control::LogFollower* follower, std::string prefix, Output* out, TaskScope* scope, int* status) {
    for (;;) {
        auto lines = co_await follower->next(scope->token());
        if (!lines) {
            if (!lines.error().is(Errc::cancelled)) {
                out->error(lines.error().message(), "check the file's permissions, then run reins logs -f again");
                *status = exit_failure;
                scope->request_stop();
            }
            co_return;
        }
        std::string text;
        for (const auto& l : *lines) text.append(prefix).append(l).append("\n");
        out->data(text);
        if (std::ferror(stdout)) {  // the reader went away (`reins logs -f | head`)
            scope->request_stop();
            co_return;
        }
    }
}

Task<void> stop_on_signal(SignalSet* signals, TaskScope* scope) {
    auto sig = co_await signals->next(scope->token());
    if (sig) scope->request_stop();
}

/// True once stdout is a pipe nobody reads any more (POLLERR on its write end).
bool reader_gone() {
    pollfd p{STDOUT_FILENO, 0, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLERR) != 0;
}

/// Ends the follow when the reader of stdout went away, even while no new
/// line comes to fail a write (as `tail -f` does): every half second.
Task<void> stop_when_reader_gone(TaskScope* scope) {
    for (;;) {
        auto slept = co_await reins::sleep(std::chrono::milliseconds(500), scope->token());
        if (!slept) co_return;
        if (reader_gone()) {
            scope->request_stop();
            co_return;
        }
    }
}

/// Follows every log until SIGINT/SIGTERM or the reader of stdout leaves
/// (exit 0), or a read error (exit 3).
Task<int> follow_all(std::vector<control::LogFollower>* followers, std::vector<std::string> prefixes, Output* out) {
    auto signals = SignalSet::create({SIGINT, SIGTERM});
    if (!signals) {
        out->error(signals.error().message(), "run reins logs without -f");
        co_return exit_failure;
    }
    int status = exit_ok;
    TaskScope scope = TaskScope::shielded();
    for (std::size_t i = 0; i < followers->size(); ++i)
        scope.spawn(follow_one(&(*followers)[i], prefixes[i], out, &scope, &status));
    scope.spawn(stop_on_signal(&*signals, &scope));
    scope.spawn(stop_when_reader_gone(&scope));
    co_await scope.join();
    co_return status;
}

/// Prints the last `n` lines: as stored for one service, merged by time and
/// prefixed for several. `ends` limits each current file (see LogFollower::start).
int print_tail(const std::vector<LogSource>& sources, std::size_t n, bool prefixed, std::size_t width,
               const std::vector<std::uint64_t>& ends, Output& out) {
    std::vector<std::pair<std::string, std::vector<std::string>>> per_service;
    for (std::size_t i = 0; i < sources.size(); ++i) {
        auto lines = control::tail_lines(sources[i].path, sources[i].keep, n, ends[i]);
        if (!lines) {
            out.error(lines.error().message(), "check the file's permissions, then run reins logs again");
            return exit_failure;
        }
        per_service.emplace_back(sources[i].name, std::move(*lines));
    }
    std::string text;
    if (!prefixed) {
        for (const auto& l : per_service.front().second) text.append(l).append("\n");
    } else {
        for (const auto& l : control::merge_by_time(std::move(per_service), n))
            text.append(prefix_of(l.service, width)).append(l.raw).append("\n");
    }
    out.data(text);
    return exit_ok;
}

int follow(const std::vector<LogSource>& sources, std::size_t n, bool prefixed, std::size_t width, Output& out) {
    Loop loop;
    int status = exit_ok;
    {
        // Followers first, then the backlog up to where they start: a line
        // written in between is printed once, by the follower.
        std::vector<control::LogFollower> followers;
        std::vector<std::uint64_t> ends;
        std::vector<std::string> prefixes;
        for (const auto& s : sources) {
            auto folder = s.path.substr(0, s.path.rfind('/'));
            auto made = control::make_dirs(folder);  // nothing logged yet: wait for the first line
            auto f = made ? control::LogFollower::open(s.path) : Result<control::LogFollower>(fail(made.error()));
            if (!f) {
                out.error(f.error().message(), "check that " + folder + " is a folder you can read");
                return exit_failure;
            }
            ends.push_back(f->start());
            prefixes.push_back(prefixed ? prefix_of(s.name, width) : std::string());
            followers.push_back(std::move(*f));
        }
        status = print_tail(sources, n, prefixed, width, ends, out);
        if (status == exit_ok && !std::ferror(stdout)) status = loop.run(follow_all(&followers, prefixes, &out));
    }
    auto closed = loop.close();
    if (!closed) out.say("warning: " + closed.error().message());
    return status;
}

}  // namespace

int run_logs(const Args& args, Output& out) {
    if (args.dashdash) {
        out.error("reins logs takes service names, not a command after --", "see: reins logs --help");
        return exit_failure;
    }
    auto n = lines_wanted(args, out);
    if (!n) return exit_failure;
    auto found = find_sources(args, out);
    if (auto* code = std::get_if<int>(&found)) return *code;
    const auto& sources = std::get<std::vector<LogSource>>(found);
    // One service asked for by name prints its lines as stored; several (or
    // all, by naming none) are merged and prefixed with the service's name.
    const bool prefixed = sources.size() > 1 || args.positional.empty();
    std::size_t width = 0;
    for (const auto& s : sources) width = std::max(width, s.name.size());
    if (args.has("follow")) return follow(sources, *n, prefixed, width, out);
    std::vector<std::uint64_t> ends(sources.size(), control::whole_file);
    return print_tail(sources, *n, prefixed, width, ends, out);
}

}  // namespace reins::cli
