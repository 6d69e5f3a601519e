"""Chaos scenarios that kill: the supervisor (daemon or `reins run`, with or
without its keeper, also in the middle of a start), Ctrl-C during an output
flood, and a stop of a service that keeps forking replacements."""
import os
import signal
import time

import exhaustion_cli_test as exhaustion  # the re-forking service and its freeze-then-kill
import reins_harness as h
from chaos_round import PY, fixture_config, nothing_left, recorded_ports, state_dir
from reins_harness import FIXTURE, alive, ours, reins, run_fg, show, supervisor_pid, wait_for, write


def sigkill_supervisor(r, d, sup, rng):
    """SIGKILL of supervisor `sup`: alone — its keeper process then kills
    every service process, so nothing may be left even before any `stop` —
    or, half the time, together with its keeper, so that the services
    survive for the next command's survivor handling. Returns the exit
    `reins stop` owes: 1 (nothing alive) or 0 (survivors stopped)."""
    if rng.random() < 0.5:
        h.kill_with_keeper(sup)
        wait_for(lambda: not alive(sup), 5)
        return 0
    os.kill(sup, signal.SIGKILL)
    wait_for(lambda: not alive(sup), 5)
    nothing_left(r, d, recorded_ports(d))
    return 1


def daemon_sigkill(d, rng, r):
    """SIGKILL of the daemon (with or without its keeper) at a random instant
    after its services are up; the next `status` reports it, the next `stop`
    leaves nothing."""
    fixture_config(d)
    res = reins(["start"], d, timeout=60)
    if not r.expect(res.returncode == 0, f"start: {show(res)}"):
        return []
    sup = supervisor_pid(state_dir(d))
    time.sleep(rng.uniform(0, 0.3))
    stop_code = sigkill_supervisor(r, d, sup, rng) if sup else 0
    res = reins(["status"], d, timeout=30)
    r.expect(res.returncode == 1, f"status after the supervisor died: exit 1: {show(res)}")
    res = reins(["stop"], d, timeout=60)
    r.expect(res.returncode == stop_code, f"stop after the supervisor died: exit {stop_code}: {show(res)}")
    return nothing_left(r, d, recorded_ports(d))


def daemon_sigkill_while_starting(d, rng, r):
    """SIGKILL of the daemon the moment a service's process appears (before
    or during its bookkeeping), or at a random instant of the start; the
    next `stop` must still find every survivor."""
    fixture_config(d)
    starter = run_fg(["start"], d)
    sup = None
    at_first_service = rng.random() < 0.7
    deadline = time.monotonic() + (5 if at_first_service else rng.uniform(0.02, 0.3))
    while time.monotonic() < deadline:
        sup = sup or supervisor_pid(state_dir(d))
        if at_first_service and sup and any(FIXTURE in " ".join(h.cmdline(p)) for p in ours(d)):
            break
        time.sleep(0.0005)
    sup = sup or supervisor_pid(state_dir(d))
    if sup and alive(sup):
        os.kill(sup, signal.SIGKILL)
        # Half the rounds ask at once: a dying daemon's socket still accepts
        # for an instant, then resets, and `stop` must see that it is gone.
        if rng.random() < 0.5:
            wait_for(lambda: not alive(sup), 5)
    starter.wait(30)
    res = reins(["stop"], d, timeout=60)
    r.expect(res.returncode in (0, 1), f"stop: exit 0 or 1: {show(res)}")
    return nothing_left(r, d, recorded_ports(d))


def run_sigkill(d, rng, r):
    """SIGKILL of a foreground `reins run` (with or without its keeper) after
    its services are up; `stop` then finds the survivors, if any."""
    fixture_config(d)
    fg = run_fg(["run"], d)
    if not r.expect(fg.wait_line(r"reins: web ready", 30), f"run: web ready: {fg.stderr_text()[-500:]}"):
        fg.wait(1)
        return []
    time.sleep(rng.uniform(0, 0.3))
    stop_code = sigkill_supervisor(r, d, fg.pid, rng)
    fg.wait(10)
    res = reins(["stop"], d, timeout=60)
    r.expect(res.returncode == stop_code, f"stop after the supervisor died: exit {stop_code}: {show(res)}")
    return nothing_left(r, d, recorded_ports(d))


def ctrl_c_during_flood(d, rng, r):
    """Ctrl-C of `reins run` at a random instant of a 20 MB output flood: it
    stops and exits 0, nothing left."""
    fg = run_fg(["run", "--name", "flood", "--", FIXTURE, "--no-listen", "--flood", "20M"], d)
    # From its "started" line on (before it, reins has not set up its signal
    # handling yet: a SIGINT then ends it as it would any program).
    r.expect(fg.wait_line(r"reins: flood started", 30), f"run: flood started: {fg.stderr_text()[-300:]}")
    time.sleep(rng.uniform(0, 0.5))
    fg.signal(signal.SIGINT)
    code = fg.wait(30)
    r.expect(code == 0, f"run after Ctrl-C: exit 0, got {code}: {fg.stderr_text()[-300:]}")
    return nothing_left(r, d)


def refork_stop(d, rng, r):
    """A service whose processes keep forking replacements (rate-limited,
    each in a session of its own, deaf to SIGTERM) stopped at a random
    instant with stop.timeout 1s: done within 4 s, none of its pids alive."""
    script = write(d, "reforker.py", exhaustion.REFORKER)
    record = os.path.join(d, "record")
    tag = None
    try:
        res = reins(["start", "--name", "reforker", "--ready", "log:^armed$", "--stop-timeout", "1s", "--",
                     PY, script, record, "6", str(rng.randint(8, 16))], d, timeout=60)
        ready = h.ready_lines(res.stderr)
        if not r.expect(res.returncode == 0 and "reforker" in ready, f"start: {show(res)}"):
            return []
        tag = exhaustion.instance_of(ready["reforker"][1])
        time.sleep(rng.uniform(0.1, 0.8))
        r.sample(d)
        t0 = time.monotonic()
        res = reins(["stop"], d, timeout=60)
        took = time.monotonic() - t0
        r.expect(res.returncode == 0 and took < 4, f"stop: exit 0 within 4 s ({took:.1f}s): {show(res)}")
        pids = {int(p) for p in (h.read(record, "") or "").split()}
        living = [p for p in pids if alive(p) and exhaustion.instance_of(p) == tag]
        r.expect(not living, f"recorded pids alive after the stop: {living}")
        return nothing_left(r, d)
    finally:
        exhaustion.freeze_then_kill(record, tag)
