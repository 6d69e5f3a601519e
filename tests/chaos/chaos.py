#!/usr/bin/env python3
"""The chaos suite: faults production will bring, repeated with random timing.

Usage: chaos.py PATH/TO/reins PATH/TO/reins-fixture [--rounds N] [--seed S] [SCENARIO...]

Each scenario runs N rounds, each in a fresh temporary directory, with its
fault at a random instant. A round fails when reins gives a wrong answer,
hangs, crashes, or leaves a process of the round behind after its own
`reins stop`. At the end a table: scenario, rounds, failures, what was left
behind. Exit 1 if any round of a scenario that is expected to hold failed.
The same seed gives the same instants (printed, to replay a failure).

Every process a round starts is stopped afterwards by pid (never by name),
through the integration harness's cleanup.
"""
import os
import random
import shutil
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "cli"))
import reins_harness as h  # noqa: E402  (reads REINS and FIXTURE from argv[1:3])
from reins_harness import FIXTURE  # noqa: E402
from chaos_round import Round  # noqa: E402
from hostile_scenarios import api_garbage, fd_exhaustion, hostile_output, racing_commands, state_dir_removed  # noqa: E402
from kill_scenarios import (ctrl_c_during_flood, daemon_sigkill, daemon_sigkill_while_starting, refork_stop,  # noqa: E402
                            run_sigkill)


# name, function, expected to hold (CI fails on a failure only where True)
SCENARIOS = [
    ("daemon-sigkill", daemon_sigkill, True),
    ("daemon-sigkill-while-starting", daemon_sigkill_while_starting, True),
    ("run-sigkill", run_sigkill, True),
    ("ctrl-c-during-flood", ctrl_c_during_flood, True),
    ("api-garbage", api_garbage, True),
    ("racing-commands", racing_commands, True),
    ("hostile-output", hostile_output, True),
    ("state-dir-removed", state_dir_removed, True),
    ("fd-exhaustion", fd_exhaustion, True),
    ("refork-stop", refork_stop, True),
]


def main():
    args = sys.argv[3:]
    rounds, seed, only = 3, None, []
    while args:
        a = args.pop(0)
        if a == "--rounds":
            rounds = int(args.pop(0))
        elif a == "--seed":
            seed = int(args.pop(0))
        else:
            only.append(a)
    if not h.REINS or not FIXTURE:
        print(__doc__, file=sys.stderr)
        return 2
    seed = seed if seed is not None else random.randrange(1 << 30)
    print(f"chaos: seed {seed}, {rounds} rounds a scenario", flush=True)
    rng = random.Random(seed)
    table = []
    failed_expected = False
    for name, fn, expected in SCENARIOS:
        if only and name not in only:
            continue
        failures, left_total, examples, samples = 0, 0, [], []
        t0 = time.monotonic()
        for i in range(rounds):
            d = tempfile.mkdtemp(prefix="reins-chaos-")
            h.running_test.update(dir=d, pids=set(), popens=[])
            r = Round()
            n_harness = len(h.failures)
            try:
                left = fn(d, rng, r) or []
                left_total += len(left)
            except Exception:
                r.problems.append(traceback.format_exc(limit=3))
            finally:
                try:
                    h.cleanup(d)
                except Exception:
                    pass
                shutil.rmtree(d, ignore_errors=True)
            r.problems += h.failures[n_harness:]
            samples += r.samples
            if r.problems:
                failures += 1
                examples.append(f"round {i + 1}: " + "; ".join(p.strip() for p in r.problems)[:400])
        took = time.monotonic() - t0
        rss = [kb for kb, _ in samples if kb]
        answers = sorted(t for _, t in samples)
        daemon = (f"{min(rss) / 1024:.1f}–{max(rss) / 1024:.1f} MiB" if rss else "—",
                  f"{answers[len(answers) // 2] * 1000:.0f} / {answers[-1] * 1000:.0f} ms" if answers else "—")
        table.append((name, rounds, failures, left_total, took, expected, daemon))
        print(f"{'ok  ' if not failures else 'FAIL'} {name}: {failures}/{rounds} failed, "
              f"{left_total} processes left, {took:.1f}s", flush=True)
        for e in examples[:3]:
            print(f"     {e}", flush=True)
        if failures and expected:
            failed_expected = True
    print()
    print("| scenario | rounds | failures | left behind | daemon RSS after the fault | `reins status` median / max | time | holds |")
    print("|---|---|---|---|---|---|---|---|")
    for name, n, f, left, took, expected, (rss, answer) in table:
        print(f"| {name} | {n} | {f} | {left} | {rss} | {answer} | {took:.0f}s | {'yes' if expected else 'not yet'} |")
    return 1 if failed_expected else 0


if __name__ == "__main__":
    sys.exit(main())
