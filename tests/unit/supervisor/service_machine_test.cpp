// The service state table, every cell, without libuv or processes.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "doc_block.hpp"
#include "reins/supervisor/service_machine.hpp"

using namespace reins::supervisor;
using S = ServiceState;
using I = MachineInput;
using reins::test::block_after;

namespace {

bool alive(S s) { return s == S::starting || s == S::running || s == S::stopping; }

bool has(const Cell& c, Act a) {
    return std::any_of(c.steps.begin(), c.steps.end(), [&](const Step& s) { return s.act == a; });
}

bool is_command(I in) {
    return in == I::start || in == I::start_spawn_only || in == I::stop || in == I::restart || in == I::shutdown;
}
bool is_launch_outcome(I in) {
    return in == I::spawned || in == I::spawned_ready || in == I::spawn_failed || in == I::spawn_impossible;
}
bool is_decision(I in) {
    return in == I::policy_restart || in == I::policy_give_up || in == I::policy_stay_stopped;
}

// One cell in a word: "-" stale, "X" impossible, "=" acts without a
// transition, else the state it ends in.
std::string brief(S s, I in) {
    Cell c = service_cell(s, in);
    if (c.verdict == Verdict::stale) return "-";
    if (c.verdict == Verdict::impossible) return "X";
    if (!has(c, Act::enter)) return "=";
    return std::string(to_string(c.next(s)));
}

std::string grid() {
    std::ostringstream out;
    for (I in : all_inputs) {
        std::string row(to_string(in));
        row.resize(30, ' ');
        for (S s : all_states) {
            std::string cell = brief(s, in);
            cell.resize(11, ' ');
            row += cell;
        }
        while (!row.empty() && row.back() == ' ') row.pop_back();
        out << row << "\n";
    }
    return out.str();
}

}  // namespace

TEST_SUITE("service_machine") {
    TEST_CASE("every cell, in a word (columns: stopped starting running stopping restarting failed)") {
        // Reviewed by hand; a change to the table shows here as a diff.
        const std::string expected =
            "start                         =          =          =          =          =          =\n"
            "start (no wait)               =          =          =          =          =          =\n"
            "stop                          =          stopped    stopped    stopped    stopped    =\n"
            "restart                       =          stopped    stopped    stopped    =          =\n"
            "shutdown                      =          stopped    stopped    stopped    stopped    =\n"
            "spawned                       starting   X          X          X          starting   starting\n"
            "spawned (no readiness check)  running    X          X          X          running    running\n"
            "spawn failed                  starting   X          X          X          starting   starting\n"
            "spawn impossible              failed     X          X          X          failed     failed\n"
            "ready                         -          running    -          -          -          -\n"
            "start timeout                 -          =          -          -          -          -\n"
            "exit                          -          =          =          X          -          -\n"
            "exit after STOPPING=1         -          =          =          =          -          -\n"
            "unhealthy                     -          =          =          X          -          -\n"
            "unhealthy after STOPPING=1    -          -          -          -          -          -\n"
            "healthy                       -          =          =          =          -          -\n"
            "probe failed                  -          =          =          =          -          -\n"
            "STATUS=                       -          =          =          =          -          -\n"
            "STOPPING=1                    -          stopping   stopping   X          -          -\n"
            "MAINPID=                      -          =          =          =          -          -\n"
            "report of an earlier run      -          -          -          -          -          -\n"
            "backoff                       -          -          -          -          =          -\n"
            "backoff of an earlier timer   -          -          -          -          -          -\n"
            "ended (restart)               X          restarting restarting X          X          X\n"
            "ended (limit reached)         X          failed     failed     X          X          X\n"
            "ended (stays stopped)         X          stopped    stopped    stopped    X          X\n";
        CHECK(grid() == expected);
    }

    TEST_CASE("the steps of the cells that carry a run's life, in order") {
        auto steps = [](S s, I in) {
            std::string out;
            for (const Step& step : service_cell(s, in).steps) {
                if (!out.empty()) out += " ";
                out += to_string(step.act);
                if (step.act == Act::enter) out += std::string("(") + std::string(to_string(step.to)) + ")";
                if (step.act == Act::enter || step.act == Act::answer_start_waiters)
                    out += std::string("[") + std::string(to_string(step.why)) + "]";
            }
            return out;
        };
        CHECK(steps(S::stopped, I::start) == "reset_restarts wait_start launch");
        CHECK(steps(S::stopped, I::spawned_ready) ==
              "enter(starting)[spawned] answer_spawned_waiters enter(running)[ready_at_spawn] start_liveness "
              "answer_start_waiters[ready]");
        CHECK(steps(S::running, I::stop) ==
              "wait_stop mark_stop_requested enter(stopping)[stop_requested] clear_away_run forget_port "
              "enter(stopped)[stopped_by_step] answer_stop_waiters answer_start_waiters[stop_requested]");
        CHECK(steps(S::stopping, I::stop) ==
              "wait_stop mark_stop_requested clear_away_run forget_port enter(stopped)[stopped_by_step] "
              "answer_stop_waiters answer_start_waiters[stop_requested]");
        CHECK(steps(S::running, I::restart) ==
              "wait_start mark_stop_requested enter(stopping)[restart_requested] clear_away_run "
              "enter(stopped)[restart_requested] reset_restarts launch");
        CHECK(steps(S::running, I::exited) == "note_exit end_exit decide");
        CHECK(steps(S::starting, I::exited) == "note_exit end_exit_during_startup decide");
        CHECK(steps(S::starting, I::policy_restart) ==
              "enter(restarting)[restart_scheduled] clear_away_ended_run answer_start_waiters[failed_to_start] "
              "arm_backoff");
        CHECK(steps(S::running, I::policy_give_up) ==
              "enter(restarting)[ended] clear_away_ended_run enter(failed)[circuit_open] "
              "answer_start_waiters[circuit_open]");
        CHECK(steps(S::running, I::policy_stay_stopped) ==
              "enter(stopping)[ended] clear_away_ended_run forget_port enter(stopped)[ended] "
              "answer_start_waiters[ended]");
        CHECK(steps(S::restarting, I::stop) ==
              "forget_port mark_stop_requested enter(stopped)[stopped_in_backoff] answer_done "
              "answer_start_waiters[stop_requested] disarm_backoff");
        CHECK(steps(S::restarting, I::start) == "wait_start disarm_backoff launch");
        CHECK(steps(S::restarting, I::backoff_elapsed) == "disarm_backoff launch");
        CHECK(steps(S::starting, I::notify_stopping) ==
              "answer_start_waiters[notify_stopping] enter(stopping)[notify_stopping]");
        CHECK(steps(S::stopped, I::spawn_failed) ==
              "note_spawn_error enter(starting)[start_requested] answer_start_waiters[could_not_spawn] "
              "end_spawn_failed decide");
    }

    TEST_CASE("a cell acts with steps, or names why it ignores its input") {
        for (S s : all_states)
            for (I in : all_inputs) {
                CAPTURE(to_string(s));
                CAPTURE(to_string(in));
                Cell c = service_cell(s, in);
                CHECK((c.verdict == Verdict::acts) == !c.steps.empty());
            }
    }

    TEST_CASE("a command is never ignored: it is answered, or waits for an answer") {
        for (S s : all_states)
            for (I in : all_inputs) {
                if (!is_command(in) || in == I::shutdown) continue;
                CAPTURE(to_string(s));
                CAPTURE(to_string(in));
                Cell c = service_cell(s, in);
                REQUIRE(c.verdict == Verdict::acts);
                CHECK((has(c, Act::answer_done) || has(c, Act::answer_not_running) ||
                       has(c, Act::answer_spawned_then_wait) || has(c, Act::wait_start) || has(c, Act::wait_stop)));
            }
    }

    TEST_CASE("the follow-up inputs are handled wherever they can follow") {
        // A launch's outcome and a policy decision come right after the step
        // that asks for them, in the state reached by then.
        for (S s : all_states)
            for (I in : all_inputs) {
                Cell c = service_cell(s, in);
                S at = s;
                for (const Step& step : c.steps) {
                    CAPTURE(to_string(s));
                    CAPTURE(to_string(in));
                    if (step.act == Act::enter) at = step.to;
                    if (step.act == Act::launch) {
                        CHECK(!alive(at));
                        for (I out : all_inputs)
                            if (is_launch_outcome(out)) CHECK(service_cell(at, out).verdict == Verdict::acts);
                        CHECK(&step == &c.steps.back());
                    }
                    if (step.act == Act::decide) {
                        CHECK(alive(at));
                        CHECK(service_cell(at, I::policy_stay_stopped).verdict == Verdict::acts);
                        if (at != S::stopping) {  // an exit announced with STOPPING=1 never restarts
                            CHECK(service_cell(at, I::policy_restart).verdict == Verdict::acts);
                            CHECK(service_cell(at, I::policy_give_up).verdict == Verdict::acts);
                        }
                        CHECK(&step == &c.steps.back());
                    }
                }
            }
    }

    TEST_CASE("a run is cleared away before its end is announced, and every waiting start is answered") {
        for (S s : all_states)
            for (I in : all_inputs) {
                CAPTURE(to_string(s));
                CAPTURE(to_string(in));
                Cell c = service_cell(s, in);
                S next = c.next(s);
                if (c.verdict != Verdict::acts) continue;
                // A live run that ends in a resting state (or restarting) is cleared away first.
                if (alive(s) && !alive(next) && !is_launch_outcome(in)) {
                    CHECK((has(c, Act::clear_away_run) || has(c, Act::clear_away_ended_run)));
                    bool cleared = false;
                    for (const Step& step : c.steps) {
                        if (step.act == Act::clear_away_run || step.act == Act::clear_away_ended_run) cleared = true;
                        if (step.act == Act::enter && (step.to == S::stopped || step.to == S::failed)) CHECK(cleared);
                    }
                }
                // Ending in stopped or failed with nothing after: no start is left waiting.
                if ((next == S::stopped || next == S::failed) && next != s && !has(c, Act::launch))
                    CHECK(has(c, Act::answer_start_waiters));
                // Leaving the backoff stops its timer.
                // (A launch's outcome follows the launch, which disarmed it.)
                if (s == S::restarting && !is_launch_outcome(in) && (next != s || has(c, Act::launch)))
                    CHECK(has(c, Act::disarm_backoff));
                if (has(c, Act::arm_backoff)) CHECK(next == S::restarting);
                if (has(c, Act::leave)) {
                    CHECK(c.steps.back().act == Act::leave);
                    CHECK((next == S::stopped || next == S::failed));
                }
            }
    }

    TEST_CASE("reports reach only a live run, and a decision only the run it is about") {
        for (S s : all_states)
            for (I in : all_inputs) {
                CAPTURE(to_string(s));
                CAPTURE(to_string(in));
                Cell c = service_cell(s, in);
                if (!alive(s) && !is_command(in) && !is_launch_outcome(in) && in != I::backoff_elapsed)
                    CHECK(c.verdict != Verdict::acts);
                if (is_decision(in) && !alive(s)) CHECK(c.verdict == Verdict::impossible);
                if (in == I::old_report || in == I::old_backoff_elapsed) CHECK(c.verdict == Verdict::stale);
            }
    }

    TEST_CASE("the edges in docs/engine.md are the table's") {
        std::ifstream f(std::string(REINS_SOURCE_DIR) + "/docs/engine.md");
        REQUIRE(f.good());
        std::stringstream doc;
        doc << f.rdbuf();
        const std::string documented = block_after(doc.str(), "<!-- service edges:");
        const std::string table = render_service_edges();
        INFO("docs/engine.md lists the edges (after \"<!-- service edges:\"):\n", documented,
             "\nthe table (src/reins/supervisor/service_machine.cpp) has:\n", table);
        CHECK(documented == table);
    }

    TEST_CASE("the table's edges are the diagram's and the few documented besides") {
        // The diagram: stopped → starting → running → stopping → stopped,
        // starting/running → restarting → starting, restarting → failed → starting;
        // besides: starting → stopping (a stop while starting), restarting →
        // stopped (a stop in the backoff), starting → failed (cannot spawn),
        // running/starting → stopped through stopping, stopped → running
        // through starting (ready at spawn).
        std::set<std::pair<S, S>> allowed{
            {S::stopped, S::starting},     {S::starting, S::running},    {S::running, S::stopping},
            {S::stopping, S::stopped},     {S::starting, S::restarting}, {S::running, S::restarting},
            {S::restarting, S::starting},  {S::restarting, S::failed},   {S::failed, S::starting},
            {S::starting, S::stopping},    {S::restarting, S::stopped},  {S::starting, S::failed},
        };
        for (S s : all_states)
            for (I in : all_inputs) {
                S at = s;
                for (const Step& step : service_cell(s, in).steps) {
                    if (step.act != Act::enter || step.to == at) continue;
                    CAPTURE(to_string(s));
                    CAPTURE(to_string(in));
                    CAPTURE(to_string(at));
                    CAPTURE(to_string(step.to));
                    CHECK(allowed.count({at, step.to}) == 1);
                    at = step.to;
                }
            }
    }
}
