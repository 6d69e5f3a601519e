#!/usr/bin/env python3
"""When the supervisor itself dies, through the real `reins` binary.

Usage: keeper_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
A `reins run` or a daemon killed with SIGKILL leaves none of its services'
processes behind — setsid'd, double-forked and environment-less
descendants included — within 1 s, and their ports are free; a clean stop
leaves no keeper process either (docs/engine.md, "When the supervisor
dies").
"""
import json
import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import (alive, check, children_of, keepers_of, main, port_free, read, reins, run_fg, show, supervisor_pid, track,
                           wait_for, wait_gone, write)

ROUNDS = 20

# The service whose descendants try every way out (tools/fixture/escaping_service.py).
SERVICE = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tools", "fixture",
                            "escaping_service.py")).read()

LINE_RX = re.compile(r"\b(main|bare|setsid|double) (\d+) (\d+)\b")


def parse(text):
    """{name: (pid, port)} of the service's lines in `text`."""
    return {m.group(1): (int(m.group(2)), int(m.group(3))) for m in LINE_RX.finditer(text)}


def all_gone(procs):
    """True once no pid of `procs` lives and every port is free."""
    return all(not alive(pid) for pid, _ in procs.values()) and all(port_free(p) for _, p in procs.values() if p)


def check_gone_within_1s(procs, killed_at, what):
    ok = wait_for(lambda: all_gone(procs), 1.0 - (time.monotonic() - killed_at), 0.005)
    took = time.monotonic() - killed_at
    if not ok:
        left = {n: (pid, port, alive(pid), port_free(port) if port else None) for n, (pid, port) in procs.items()}
        check(False, f"{what}: every service process gone and port free within 1 s of the SIGKILL "
                     f"(after {took:.3f}s): {left}")
    return ok


def run_service(d):
    """`reins run` of the service (d/svc.py) until it printed its 4 processes:
    (the run, the match of its last line or None, parse() of its output),
    every process tracked."""
    fg = run_fg(["run", "--", sys.executable, "svc.py"], d)
    line = fg.wait_line(r"\bdouble \d+ \d+", timeout=30, stream="out")
    procs = parse(fg.stdout_text())
    for pid, _ in procs.values():
        track(pid)
    return fg, line, procs


def tracked_keepers(sup):
    """keepers_of(sup), each tracked."""
    keepers = keepers_of(sup)
    for k in keepers:
        track(k)
    return keepers


def test_run_sigkilled_leaves_no_service_process(d):
    write(d, "svc.py", SERVICE)
    worst = 0.0
    for i in range(ROUNDS):
        fg, line, procs = run_service(d)
        if not check(line and len(procs) == 4, f"round {i}: the service printed its 4 processes: {fg.stdout_text()!r}"):
            return
        keepers = tracked_keepers(fg.pid)
        check(len(keepers) == 1, f"round {i}: reins run has one keeper child: {keepers}")
        killed_at = time.monotonic()
        os.kill(fg.pid, signal.SIGKILL)
        if not check_gone_within_1s(procs, killed_at, f"round {i}: reins run SIGKILLed"):
            return
        worst = max(worst, time.monotonic() - killed_at)
        check(all(wait_gone(k, 5) for k in keepers), f"round {i}: the keeper ends after its sweep: {keepers}")
        fg.wait(10)
    print(f"  reins run SIGKILLed, {ROUNDS} rounds: everything gone within {worst * 1000:.0f} ms at worst")


def test_daemon_sigkilled_leaves_no_service_process(d):
    write(d, "svc.py", SERVICE)
    sd = os.path.join(d, ".reins")
    log = os.path.join(sd, "logs", "svc.log")
    worst = 0.0
    for i in range(ROUNDS):
        r = reins(["start", "--name", "svc", "--", sys.executable, "svc.py"], d, timeout=60)
        if not check(r.returncode == 0, f"round {i}: start: {show(r)}"):
            return
        sup = supervisor_pid(sd)
        track(sup)
        # Each round's lines come after the previous rounds' lines in the log.
        seen = wait_for(lambda: len(LINE_RX.findall(read(log, "") or "")) >= 4 * (i + 1), 30)
        found = LINE_RX.findall(read(log, "") or "")[4 * i:4 * (i + 1)]
        procs = {n: (int(pid), int(port)) for n, pid, port in found}
        for pid, _ in procs.values():
            track(pid)
        if not check(seen and len(procs) == 4, f"round {i}: the service logged its 4 processes: {read(log)!r}"):
            return
        keepers = tracked_keepers(sup)
        check(len(keepers) == 1, f"round {i}: the daemon has one keeper child: {keepers}")
        killed_at = time.monotonic()
        os.kill(sup, signal.SIGKILL)
        if not check_gone_within_1s(procs, killed_at, f"round {i}: daemon (pid {sup}) SIGKILLed"):
            return
        worst = max(worst, time.monotonic() - killed_at)
        check(all(wait_gone(k, 5) for k in keepers), f"round {i}: the keeper ends after its sweep: {keepers}")
        check(wait_gone(sup, 5), f"round {i}: the daemon is gone")
    print(f"  daemon SIGKILLed, {ROUNDS} rounds: everything gone within {worst * 1000:.0f} ms at worst")


def fds_of(pid):
    out = {}
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                pass
    except OSError:
        pass
    return out


def ints_in(value):
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from ints_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from ints_in(v)


def test_daemon_keeper_stays_private_and_ends_with_stop(d):
    write(d, "svc.py", SERVICE)
    sd = os.path.join(d, ".reins")
    r = reins(["start", "--name", "svc", "--", sys.executable, "svc.py"], d, timeout=60)
    if not check(r.returncode == 0, f"start: {show(r)}"):
        return
    sup = supervisor_pid(sd)
    track(sup)
    keepers = tracked_keepers(sup)
    if not check(len(keepers) == 1, f"the daemon has one keeper child: {keepers}"):
        return
    keeper = keepers[0]
    check(read(f"/proc/{keeper}/cmdline", "").strip("\0") == "reins-keeper",
          f"the keeper's command line is reins-keeper, not the daemon's: {read(f'/proc/{keeper}/cmdline')!r}")
    # The service holds none of the supervisor's sockets (the keeper's end among them).
    svc = [s for s in json.loads(read(os.path.join(sd, "state.json"), "{}")).get("services", [])][0]
    sup_sockets = {t for t in fds_of(sup).values() if t.startswith("socket:")}
    leaked = {fd: t for fd, t in fds_of(svc["pid"]).items() if t in sup_sockets}
    check(not leaked, f"the service inherited none of the supervisor's sockets: {leaked}")
    check(fds_of(svc["pid"]) and keeper not in ints_in(json.loads(read(os.path.join(sd, "state.json"), "{}"))),
          "state.json does not name the keeper")
    st = reins(["status", "--json"], d)
    check(st.returncode == 0 and keeper not in ints_in(json.loads(st.stdout or "{}")),
          f"status does not name the keeper (pid {keeper}): {show(st)}")
    r = reins(["stop"], d, timeout=60)
    check(r.returncode == 0, f"stop: {show(r)}")
    check(wait_gone(keeper, 5), f"no keeper (pid {keeper}) left after reins stop")
    check(wait_gone(sup, 5), "the daemon is gone after reins stop")


def test_run_ctrl_c_leaves_no_keeper(d):
    write(d, "svc.py", SERVICE)
    fg, line, procs = run_service(d)
    keepers = tracked_keepers(fg.pid)
    if not check(line and len(keepers) == 1, f"reins run has one keeper child: {keepers}; {fg.stdout_text()!r}"):
        return
    # As a terminal's Ctrl-C: to reins' whole process group (the keeper has left it).
    os.killpg(fg.pid, signal.SIGINT)
    code = fg.wait(30)
    check(code == 0, f"Ctrl-C: exit 0, got {code}: {fg.stderr_text()!r}")
    check(wait_gone(keepers[0], 5), f"no keeper (pid {keepers[0]}) left after Ctrl-C")
    check(wait_for(lambda: all_gone(procs), 5), f"no service process left after Ctrl-C: {procs}")


def test_killed_keeper_is_replaced(d):
    write(d, "svc.py", SERVICE)
    fg, line, procs = run_service(d)
    first = tracked_keepers(fg.pid)
    if not check(line and len(first) == 1, f"reins run has one keeper child: {first}"):
        return
    os.kill(first[0], signal.SIGKILL)
    said = fg.wait_line(r"keeper process \(pid \d+\) killed by signal 9: started a new one \(pid (\d+)\)", 10)
    check(said, f"reins says it replaced the killed keeper: {fg.stderr_text()!r}")
    second = wait_for(lambda: [k for k in keepers_of(fg.pid) if k != first[0]], 5)
    for k in second or []:
        track(k)
    check(second and said and int(said.group(1)) == second[0], f"a new keeper runs: {second}")
    check(first[0] not in children_of(fg.pid), f"the killed keeper (pid {first[0]}) was reaped, not a zombie")
    check(all(alive(pid) for pid, _ in procs.values()), "the services live on")
    # The new keeper does the job.
    killed_at = time.monotonic()
    os.kill(fg.pid, signal.SIGKILL)
    check_gone_within_1s(procs, killed_at, "reins run SIGKILLed after its keeper was replaced")
    fg.wait(10)


if __name__ == "__main__":
    main(globals(), __doc__)
