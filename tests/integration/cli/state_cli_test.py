#!/usr/bin/env python3
"""One supervisor per state directory, and what a killed one leaves behind,
against the real binary.

Usage: state_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
docs/cli.md, The state directory (concurrent starts, the lock, files and
modes, pids trusted only with their start time) and When the supervisor was
killed (status/stop of its survivors), docs/reliability.md.
"""
import fcntl
import json
import os
import signal
import stat
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import (FIXTURE, READY_RX, REINS, alive, api_config, check, daemons_of, env_for, kill_with_keeper,
                           main, port_free, read, ready_lines, reins, run_fg, service, show, start_ok, start_time,
                           starts_recorded, state_json, status_json, supervisor_pid, track, wait_for, wait_gone, write)


def test_concurrent_start(d):
    api_config(d)
    sd = os.path.join(d, ".reins")
    procs = [subprocess.Popen([REINS, "start"], cwd=d, env=env_for(), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        results.append((p.returncode, err))
    sup = supervisor_pid(sd)
    if sup:
        track(sup)
    for code, err in results:
        check(code == 0, f"every concurrent start exits 0: {code}: {err!r}")
    # A loser daemon (if one was spawned) exits at once; then exactly one is left.
    check(wait_for(lambda: len(daemons_of(sd)) == 1, 10), f"exactly one daemon: {daemons_of(sd)}")
    time.sleep(0.3)
    check(daemons_of(sd) == [sup], f"exactly one daemon, the one of reins.pid ({sup}): {daemons_of(sd)}")
    check(starts_recorded(d) == 1, f"the service was started once: {read(os.path.join(d, 'record-api'))!r}")
    r, doc = status_json(d)
    s = service(doc, "api")
    check(r.returncode == 0 and s and s["state"] == "running" and s["restarts"] == 0 and doc["supervisor"]["pid"] == sup,
          f"one running service: {doc}")
    if s:
        track(s["pid"])


def test_second_supervisor_on_locked_dir(d):
    api_config(d)
    r, ready = start_ok(d)
    sup = supervisor_pid(os.path.join(d, ".reins"))
    check(sup is not None, "reins.pid")
    # A foreground supervisor on the same state directory is refused, naming the first.
    r = reins(["run"], d, timeout=30)
    check(r.returncode == 3 and f"pid {sup}" in r.stderr, f"second supervisor: 3 naming pid {sup}: {show(r)}")
    r = reins(["run", "--", "sleep", "30"], d, timeout=30)
    check(r.returncode == 3 and f"pid {sup}" in r.stderr, f"run -- CMD on a locked dir: 3 naming pid {sup}: {show(r)}")
    check(alive(sup) and reins(["status"], d).returncode == 0, "the first supervisor is undisturbed")


# ---- a killed supervisor ---------------------------------------------------------------

def kill_supervisor(d):
    """SIGKILL of the daemon and of its keeper process: its services survive
    it, for the survivor handling (the second line of defence) to find.
    keeper_cli_test.py tests the keeper itself."""
    sd = os.path.join(d, ".reins")
    sup = supervisor_pid(sd)
    if check(sup and alive(sup), "a supervisor to kill"):
        kill_with_keeper(sup)
        check(wait_gone(sup, 5), "the supervisor died")
    return sup


def test_killed_supervisor(d):
    api_config(d)
    sd = os.path.join(d, ".reins")
    r, ready = start_ok(d)
    if not check("api" in ready, f"started: {r.stderr!r}"):
        return
    port, pid = ready["api"]
    kill_supervisor(d)
    time.sleep(0.2)
    survived = alive(pid)
    check(survived, f"the service {pid} survived its supervisor and keeper")
    r = reins(["status"], d)
    check(r.returncode == 1, f"status after SIGKILL of the supervisor: 1: {show(r)}")
    if survived:
        check(str(pid) in r.stderr, f"the surviving service pid {pid} is listed: {r.stderr!r}")
    r = reins(["status", "--lsb"], d)
    check(r.returncode == 3, f"status --lsb: 3: {show(r)}")
    r = reins(["stop"], d)
    check(r.returncode == (0 if survived else 1), f"stop of the survivors: {show(r)}")
    check(not alive(pid) and wait_for(lambda: port_free(port), 5), "nothing left: service gone, port free")
    check(not os.path.exists(os.path.join(sd, "reins.pid")) and not os.path.exists(os.path.join(sd, "reins.sock")),
          "stale reins.pid / reins.sock removed")
    r = reins(["stop"], d)
    check(r.returncode == 1, f"stop again: 1 (nothing alive): {show(r)}")
    r = reins(["status"], d)
    check(r.returncode == 1 and str(pid) not in r.stderr, f"status lists nothing now: {show(r)}")
    # The state dir is usable again.
    r, ready = start_ok(d, what="start after a killed supervisor")
    check("api" in ready, "started again")


def test_start_after_killed_supervisor(d):
    api_config(d)
    r, ready = start_ok(d)
    if not check("api" in ready, f"started: {r.stderr!r}"):
        return
    port, pid = ready["api"]
    kill_supervisor(d)
    r, ready2 = start_ok(d, what="start after SIGKILL of the supervisor")
    check(not alive(pid), f"the next start stopped the survivor {pid}")
    check("api" in ready2 and ready2["api"][1] != pid, f"a new service process: {r.stderr!r}")
    r, doc = status_json(d)
    check(r.returncode == 0 and len(daemons_of(os.path.join(d, ".reins"))) == 1, f"one supervisor: {show(r)}")


def test_run_after_killed_supervisor(d):
    api_config(d)
    r, ready = start_ok(d)
    if not check("api" in ready, f"started: {r.stderr!r}"):
        return
    port, pid = ready["api"]
    kill_supervisor(d)
    fg = run_fg(["run"], d)
    m = fg.wait_line(READY_RX, 30)
    check(m is not None, f"reins run after SIGKILL of the supervisor: ready: {fg.stderr_text()!r}")
    if m:
        track(int(m.group(3)))
    check(not alive(pid), f"reins run stopped the survivor {pid} first")
    check(f"stopping api pid {pid}" in fg.stderr_text() and "left by a supervisor that is gone" in fg.stderr_text(),
          f"and said so: {fg.stderr_text()!r}")
    fg.signal(signal.SIGTERM)
    check(fg.wait(30) == 0, f"reins run exits 0 on SIGTERM: {fg.stderr_text()!r}")


def test_survivor_with_no_record_is_found(d):
    """A supervisor killed between a spawn and its bookkeeping leaves a process
    that no state.json or pid file names: its REINS_INSTANCE, which names the
    supervisor of reins.lock, still finds it (simulated here by removing the
    records after the kill)."""
    api_config(d)
    sd = os.path.join(d, ".reins")
    r, ready = start_ok(d)
    if not check("api" in ready, f"started: {r.stderr!r}"):
        return
    port, pid = ready["api"]
    kill_supervisor(d)
    os.remove(os.path.join(sd, "state.json"))
    for f in os.listdir(os.path.join(sd, "pids")):
        os.remove(os.path.join(sd, "pids", f))
    if not check(alive(pid), "the service survived its supervisor"):
        return
    r = reins(["status"], d)
    check(r.returncode == 1 and str(pid) in r.stderr, f"status lists the unrecorded survivor {pid}: {show(r)}")
    r = reins(["stop"], d)
    check(r.returncode == 0, f"stop finds it: {show(r)}")
    check(wait_gone(pid, 5) and wait_for(lambda: port_free(port), 5), "nothing left: service gone, port free")


def test_stale_pid_not_signalled(d):
    api_config(d)
    sd = os.path.join(d, ".reins")
    r, ready = start_ok(d)
    if not check("api" in ready, f"started: {r.stderr!r}"):
        return
    port, pid = ready["api"]
    sup = kill_supervisor(d)
    os.killpg(pid, signal.SIGKILL)
    check(wait_gone(pid, 5), "the service is gone too")
    # An unrelated process now has "its" pid in every file (a recycled pid).
    bystander = subprocess.Popen(["sleep", "60"], cwd=d, start_new_session=True)
    track(bystander.pid)
    try:
        snap = state_json(sd)
        for s in snap["services"]:
            s["pid"] = bystander.pid  # pid_start_time stays the old process's: not this one's
        check(service(snap, "api")["pid_start_time"] != start_time(bystander.pid), "start times differ")
        if "supervisor" in snap and isinstance(snap["supervisor"], dict):
            snap["supervisor"]["pid"] = bystander.pid
        write(sd, "state.json", json.dumps(snap))
        write(sd, "reins.pid", f"{bystander.pid}\n")
        os.makedirs(os.path.join(sd, "pids"), exist_ok=True)
        write(os.path.join(sd, "pids"), "api.pid", f"{bystander.pid}\n")
        r = reins(["status"], d)
        check(r.returncode == 1 and f"pid {bystander.pid}" not in r.stderr,
              f"status: 1, the bystander is not a survivor: {show(r)}")
        r = reins(["stop"], d)
        check(r.returncode == 1, f"stop: nothing of the service alive: 1: {show(r)}")
        check(alive(bystander.pid), "stop did not signal the recycled pid")
        api_config(d)
        r, ready = start_ok(d, what="start over stale files")
        check(alive(bystander.pid), "start did not signal the recycled pid")
        r = reins(["stop"], d)
        check(r.returncode == 0, f"stop: {show(r)}")
        check(alive(bystander.pid) and bystander.poll() is None, "the bystander survived everything")
    finally:
        bystander.kill()
        bystander.wait(timeout=10)


# ---- files ---------------------------------------------------------------------------

def test_state_dir_modes(d):
    nested = os.path.join(d, "a", "b", "state")
    old = os.umask(0)
    try:
        r = reins(["start", "--state-dir", nested, "--name", "svc", "--", FIXTURE, "--no-listen"], d,
                  preexec=lambda: os.umask(0))
    finally:
        os.umask(old)
    check(r.returncode == 0, f"start with a nested --state-dir and umask 0: {show(r)}")
    for port, pid in ready_lines(r.stderr).values():
        track(pid)
    sup = supervisor_pid(nested)
    if sup:
        track(sup)
    st = os.stat(nested)
    check(stat.S_IMODE(st.st_mode) == 0o700, f"state dir mode 0700: {oct(st.st_mode)}")
    lock = os.stat(os.path.join(nested, "reins.lock"))
    check(stat.S_IMODE(lock.st_mode) == 0o600, f"reins.lock mode 0600: {oct(lock.st_mode)}")
    sock = os.stat(os.path.join(nested, "reins.sock"))
    check(stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o600,
          f"reins.sock is a socket, mode 0600: {oct(sock.st_mode)}")
    check(not os.path.exists(os.path.join(d, ".reins")), "no .reins in the cwd when --state-dir is given")
    # The lock is really held (flock) by the supervisor.
    with open(os.path.join(nested, "reins.lock")) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = False
            fcntl.flock(f, fcntl.LOCK_UN)
        except OSError:
            held = True
    check(held, "reins.lock is flocked by the supervisor")
    # REINS_STATE_DIR is the same as --state-dir.
    r = reins(["status"], d, env={"REINS_STATE_DIR": nested})
    check(r.returncode == 0 and "svc" in r.stdout, f"status with REINS_STATE_DIR: {show(r)}")
    r = reins(["stop", "--state-dir", nested], d)
    check(r.returncode == 0 and wait_gone(sup, 5), f"stop --state-dir: {show(r)}")


if __name__ == "__main__":
    main(globals())
