#!/usr/bin/env python3
"""The state directory removed or moved away under a running daemon, against
the real binary: the daemon puts it back (lock, pid, socket, state.json, pid
files, logs) and goes on supervising; no second supervisor starts beside it.

Usage: statedir_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
docs/cli.md ("State directory").
"""
import fcntl
import os
import shutil
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import (FIXTURE, alive, check, daemons_of, main, port_free, read, reins, service, show, start_ok,
                           starts_recorded, state_json, status_json, supervisor_pid, toml_cmd, track, wait_for,
                           wait_gone, write)

TICKER = ["sh", "-c", "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done"]


def two_services(d):
    """`api` (fixture, http readiness, records its starts) and `ticker` (a line every 0.2 s)."""
    api = [FIXTURE, "--port", "${PORT}", "--record", os.path.join(d, "record-api")]
    write(d, "reins.toml", f'''version = 1
[service.api]
command = {toml_cmd(api)}
port = "auto"
ready = {{ http = "/ready" }}

[service.ticker]
command = {toml_cmd(TICKER)}
''')


def lock_held(path):
    """Is the flock of `path` held by some process (a non-blocking LOCK_EX fails)?"""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def found_again(d, sup):
    """`reins status --json` answers from supervisor `sup` with api running."""
    r, doc = status_json(d)
    s = service(doc, "api")
    return r.returncode == 0 and doc and doc["supervisor"]["pid"] == sup and s and s["state"] == "running"


def start_daemon(d):
    two_services(d)
    sd = os.path.join(d, ".reins")
    r, ready = start_ok(d)
    sup = supervisor_pid(sd)
    r, doc = status_json(d)
    api, ticker = service(doc, "api"), service(doc, "ticker")
    ok = check(sup and api and ticker and api["state"] == "running" and ticker["state"] == "running",
               f"a daemon with api and ticker running: {doc}")
    if ok:
        track(api["pid"])
        track(ticker["pid"])
    return sd, sup, (api or {}).get("pid"), (api or {}).get("port"), (ticker or {}).get("pid")


def check_recreated(d, sd, sup, api_pid, ticker_pid, what):
    # inotify wakes the daemon at once; 5 s is the generous bound of a loaded machine.
    if not check(wait_for(lambda: found_again(d, sup), 5, step=0.1),
                 f"{what}: status finds supervisor {sup} again: {show(reins(['status'], d))}"):
        return False
    r, doc = status_json(d)
    api = service(doc, "api")
    check(api["pid"] == api_pid and api["restarts"] == 0 and starts_recorded(d) == 1,
          f"{what}: api was not restarted (pid {api_pid}): {api}")
    check(service(doc, "ticker")["pid"] == ticker_pid, f"{what}: ticker goes on (pid {ticker_pid}): {doc}")
    check(lock_held(os.path.join(sd, "reins.lock")), f"{what}: the new reins.lock is flock'ed")
    check(supervisor_pid(sd) == sup, f"{what}: reins.pid says {sup}")
    check(os.path.exists(os.path.join(sd, "reins.sock")), f"{what}: reins.sock is back")
    check(os.stat(sd).st_mode & 0o777 == 0o700, f"{what}: the folder is 0700")
    snap = state_json(sd)
    check(snap and snap["supervisor"]["pid"] == sup and (service(snap, "api") or {}).get("pid") == api_pid,
          f"{what}: state.json names the supervisor and api: {snap}")
    check((read(os.path.join(sd, "pids", "api.pid"), "") or "").strip() == str(api_pid),
          f"{what}: pids/api.pid is back")
    log = read(os.path.join(sd, "logs", "reins.log"), "") or ""
    check(f"state directory {sd} was removed; recreated it" in log, f"{what}: the warning in reins.log: {log!r}")
    # The service logs go to the new folder: `reins logs` shows fresh output.
    def fresh_ticks():
        r = reins(["logs", "ticker", "-n", "5"], d, timeout=30)
        return r.returncode == 0 and " out tick " in r.stdout
    check(wait_for(fresh_ticks, 5, step=0.1), f"{what}: reins logs ticker shows new lines: "
          f"{show(reins(['logs', 'ticker'], d))}")
    return True


def check_no_second_supervisor(d, sd, sup, what):
    r = reins(["start"], d, timeout=60)
    check(r.returncode == 0, f"{what}: reins start: exit 0: {show(r)}")
    time.sleep(0.3)  # a second daemon, had one been spawned, would be there now
    check(daemons_of(sd) == [sup], f"{what}: one supervisor, {sup}: {daemons_of(sd)}")
    check(starts_recorded(d) == 1, f"{what}: api was started once: {read(os.path.join(d, 'record-api'))!r}")


def check_stop_leaves_nothing(d, sd, sup, api_pid, port, ticker_pid):
    r = reins(["stop"], d, timeout=60)
    check(r.returncode == 0, f"stop: exit 0: {show(r)}")
    check(wait_gone(sup, 10), f"the supervisor {sup} exited")
    check(not alive(api_pid) and not alive(ticker_pid), "both services stopped")
    check(wait_for(lambda: port_free(port), 5), f"port {port} free")
    check(daemons_of(sd) == [], f"no daemon left: {daemons_of(sd)}")


def test_removed_state_dir_is_recreated(d):
    sd, sup, api_pid, port, ticker_pid = start_daemon(d)
    if not sup or not api_pid:
        return
    # Twice: the folder made again is watched again.
    for round in (1, 2):
        shutil.rmtree(sd)
        if not check_recreated(d, sd, sup, api_pid, ticker_pid, f"rm -rf #{round}"):
            return
    check_no_second_supervisor(d, sd, sup, "after rm -rf")
    r = reins(["restart", "api"], d, timeout=60)
    check(r.returncode == 0 and starts_recorded(d) == 2, f"the control API acts: restart api: {show(r)}")
    r, doc = status_json(d)
    api_pid = (service(doc, "api") or {}).get("pid") or api_pid
    track(api_pid)
    check((read(os.path.join(sd, "pids", "api.pid"), "") or "").strip() == str(api_pid),
          "pids/api.pid follows the restart")
    check_stop_leaves_nothing(d, sd, sup, api_pid, port, ticker_pid)


def test_moved_state_dir_is_recreated(d):
    sd, sup, api_pid, port, ticker_pid = start_daemon(d)
    if not sup or not api_pid:
        return
    moved = os.path.join(d, "moved-away")
    os.rename(sd, moved)
    if not check_recreated(d, sd, sup, api_pid, ticker_pid, "mv"):
        return
    check(not lock_held(os.path.join(moved, "reins.lock")), "the moved-away lock was let go")
    check_no_second_supervisor(d, sd, sup, "after mv")
    check_stop_leaves_nothing(d, sd, sup, api_pid, port, ticker_pid)
    # The moved folder is the person's now: reins left it as it was.
    check(os.path.exists(os.path.join(moved, "state.json")), "the moved folder is left alone")


def test_moved_again_while_recreated(d):
    """The folder moved away again and again, as fast as it reappears (a
    second `mv` or `rm -rf` lands while the supervisor is recreating it):
    the supervisor never gives up on it, and ends up with the folder in place."""
    sd, sup, api_pid, port, ticker_pid = start_daemon(d)
    if not sup or not api_pid:
        return
    moves = 0
    for i in range(15):  # each time the very moment it is back
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                os.rename(sd, os.path.join(d, f"moved-{i}"))
                moves += 1
                break
            except OSError:
                pass  # not recreated yet
    check(moves == 15, f"moved it 15 times: {moves}")
    if not check_recreated(d, sd, sup, api_pid, ticker_pid, f"{moves} moves in a row"):
        return
    check_stop_leaves_nothing(d, sd, sup, api_pid, port, ticker_pid)


def test_lost_race_leaves_one_supervisor(d):
    """A supervisor that locks the new folder before the old one could (the
    old one is held stopped to widen the window) wins; the old one leaves
    the winner's files alone, stops its services and exits."""
    sd, sup, api_pid, port, ticker_pid = start_daemon(d)
    if not sup or not api_pid:
        return
    os.kill(sup, signal.SIGSTOP)
    try:
        shutil.rmtree(sd)
        r, ready = start_ok(d, what="start while the first supervisor is held")
    finally:
        os.kill(sup, signal.SIGCONT)
    winner = supervisor_pid(sd)
    if not check(winner and winner != sup, f"a new supervisor took the folder: {winner}"):
        return
    track(winner)
    check(wait_gone(sup, 15), f"the first supervisor {sup} exited")
    check(wait_gone(api_pid, 5) and wait_gone(ticker_pid, 5), "its services were stopped")
    check(daemons_of(sd) == [winner], f"one supervisor left, {winner}: {daemons_of(sd)}")
    check(supervisor_pid(sd) == winner and lock_held(os.path.join(sd, "reins.lock")),
          "reins.pid and the lock are the winner's")
    snap = state_json(sd)
    check(snap and snap["supervisor"]["pid"] == winner, f"state.json is the winner's: {snap}")
    log = read(os.path.join(sd, "logs", "reins.log"), "") or ""
    check(f"supervisor pid {sup}: state directory {sd} was removed and another supervisor (pid {winner})" in log,
          f"the loser says so in the winner's reins.log: {log!r}")
    r, doc = status_json(d)
    s = service(doc, "api")
    check(r.returncode == 0 and s and s["state"] == "running", f"the winner's api runs: {doc}")
    if s:
        track(s["pid"])
    r = reins(["stop"], d, timeout=60)
    check(r.returncode == 0 and wait_gone(winner, 10), f"stop: {show(r)}")
    check(daemons_of(sd) == [], f"no daemon left: {daemons_of(sd)}")


if __name__ == "__main__":
    main(globals(), __doc__)
