#!/usr/bin/env python3
"""When `reins start` / `status` / `stop` / `restart` go wrong, against the
real binary: usage errors and invalid configs with no supervisor, a failed
startup (with and without other services on the daemon), a busy port, and a
crash loop ending failed (docs/cli.md, exit codes; docs/engine.md).
The normal round trip is in daemon_cli_test.py.

Usage: daemon_failures_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
"""
import os
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import (FIXTURE, alive, check, daemons_of, main, ready_lines, reins, service, show, start_ok,
                           starts_recorded, status_json, supervisor_pid, toml_cmd, wait_for, write)


# ---- exit codes -----------------------------------------------------------------

def test_exit_codes_without_supervisor(d):
    r = reins(["frobnicate"], d)
    check(r.returncode == 3 and "frobnicate" in r.stderr, f"unknown command: 3: {show(r)}")
    r = reins(["start", "--bogus"], d)
    check(r.returncode == 3 and "--bogus" in r.stderr, f"start with an unknown option: 3: {show(r)}")
    r = reins(["start", "--port", "not-a-port", "--name", "x", "--", "true"], d)
    check(r.returncode == 3 and "--port" in r.stderr, f"start with a bad --port: 3: {show(r)}")
    r = reins(["stop", "--", "true"], d)
    check(r.returncode == 3, f"stop with a command: 3: {show(r)}")
    r = reins(["start"], d)
    check(r.returncode == 3 and "reins.toml" in r.stderr, f"start without config: 3: {show(r)}")
    r = reins(["status"], d)
    check(r.returncode == 1, f"status with no supervisor: 1: {show(r)}")
    r = reins(["status", "--lsb"], d)
    check(r.returncode == 3, f"status --lsb with no supervisor: 3: {show(r)}")
    r = reins(["stop"], d)
    check(r.returncode == 1, f"stop with no supervisor: 1: {show(r)}")
    r = reins(["stop", "api"], d)
    check(r.returncode == 1 and "not running" in r.stderr, f"stop api with no supervisor: 1, not running: {show(r)}")
    check(all(l.startswith("reins:") for l in r.stderr.splitlines()), f"stderr lines prefixed: {r.stderr!r}")
    # An invalid config: 3, the error names file and key, nothing is started.
    write(d, "reins.toml", 'version = 1\n[service.api]\ncommand = "true"\nrestarts = 3\n')
    r = reins(["start"], d)
    check(r.returncode == 3 and "reins.toml:4:1" in r.stderr and "restarts" in r.stderr,
          f"start with an invalid config: 3: {show(r)}")
    check(not daemons_of(os.path.join(d, ".reins")), "no daemon after an invalid config")
    r = reins(["restart"], d)
    check(r.returncode == 3, f"restart with an invalid config: 3: {show(r)}")
    # Unknown service in a valid config.
    write(d, "reins.toml", 'version = 1\n[service.api]\ncommand = "sleep 30"\n')
    r = reins(["start", "nope"], d)
    check(r.returncode in (1, 3) and "nope" in r.stderr, f"start of an unknown service fails naming it: {show(r)}")
    check(wait_for(lambda: not daemons_of(os.path.join(d, ".reins")), 5), "no daemon left after it")


# ---- failed starts -----------------------------------------------------------------

def test_failed_startup(d):
    sd = os.path.join(d, ".reins")
    write(d, "reins.toml", f'''version = 1
[service.bad]
command = "echo first-words; echo last-words-of-bad >&2; exit 5"
port = "auto"
ready = {{ tcp = true }}
restart = "no"
''')
    r = reins(["start"], d, timeout=60)
    check(r.returncode == 3, f"a failed startup: exit 3: {show(r)}")
    check("last-words-of-bad" in r.stderr, f"with the service's last output lines: {r.stderr!r}")
    check(wait_for(lambda: not daemons_of(sd), 10), f"the daemon exits by itself: {daemons_of(sd)}")
    sup = supervisor_pid(sd)
    check(not sup or not alive(sup), "reins.pid names no live process")
    r = reins(["status"], d)
    check(r.returncode == 1, f"status after it: 1: {show(r)}")


def test_failed_startup_keeps_daemon_with_others(d):
    sd = os.path.join(d, ".reins")
    write(d, "reins.toml", f'''version = 1
[service.good]
command = {toml_cmd([FIXTURE, "--no-listen"])}
[service.bad]
command = "echo bad-says-bye; exit 5"
port = "auto"
ready = {{ tcp = true }}
restart = "no"
''')
    r, ready = start_ok(d, ["good"], "start good")
    pid = ready.get("good", (0, 0))[1]
    sup = supervisor_pid(sd)
    r = reins(["start", "bad"], d, timeout=60)
    check(r.returncode == 3 and "bad-says-bye" in r.stderr, f"start bad: 3 with its last output: {show(r)}")
    time.sleep(0.5)
    check(alive(sup) and alive(pid), "a daemon that still runs other services stays")
    r = reins(["status", "good"], d)
    check(r.returncode == 0, f"good still running: {show(r)}")
    r = reins(["status", "bad"], d)
    check(r.returncode == 1, f"status bad: 1: {show(r)}")


def test_busy_port_start(d):
    sd = os.path.join(d, ".reins")
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        write(d, "reins.toml", f'''version = 1
[service.api]
command = {toml_cmd([FIXTURE, "--port", "${PORT}", "--record", os.path.join(d, "record-api")])}
port = {port}
ready = {{ tcp = true }}
''')
        r = reins(["start"], d, timeout=60)
        check(r.returncode == 2, f"busy port: exit 2: {show(r)}")
        check(str(port) in r.stderr and f"pid {os.getpid()}" in r.stderr,
              f"names the port and the holder pid {os.getpid()}: {r.stderr!r}")
        check(starts_recorded(d) == 0, "the service was not spawned")
        check(wait_for(lambda: not daemons_of(sd), 10), "the daemon exits by itself")
        r = reins(["start", "--name", "solo", "--port", str(port), "--", FIXTURE, "--port", "$PORT"], d, timeout=60)
        check(r.returncode == 2 and f"pid {os.getpid()}" in r.stderr, f"start --name with a busy port: 2: {show(r)}")
        check(wait_for(lambda: not daemons_of(sd), 10), "the daemon exits by itself (single command)")
    finally:
        holder.close()


def test_failed_service_status(d):
    # A crash loop: exactly restart.max restarts, then `failed` (the circuit opens).
    write(d, "reins.toml", f'''version = 1
[service.crash]
command = "echo crash-output-$$; sleep 0.2; exit 1"
restart = {{ max = 2, backoff = {{ initial = "50ms", jitter = 0 }} }}
[service.idle]
command = {toml_cmd([FIXTURE, "--no-listen"])}
''')
    start_ok(d)
    failed = wait_for(lambda: (service(status_json(d)[1], "crash") or {}).get("state") == "failed", 15)
    r, doc = status_json(d, ["crash"])
    s = service(doc, "crash") or {}
    if not check(failed, f"crash ends failed: {doc}"):
        return
    check(s.get("restarts") == 2 and s.get("last_exit") == "exit 1" and not s.get("pid"),
          f"after exactly max=2 restarts, last exit shown: {s}")
    check(any(l.startswith("crash-output-") for l in s.get("last_output", [])), f"last output in the json: {s}")
    r = reins(["status", "crash"], d)
    check(r.returncode == 3, f"status of a failed service exits 3 (docs/cli.md, Exit codes): {show(r)}")
    check("crash-output-" in r.stdout + r.stderr, f"status shows the failed service's last output lines: {show(r)}")
    r = reins(["status", "--lsb", "crash"], d)
    check(r.returncode == 1, f"status --lsb of a failed service: 1: {show(r)}")
    r = reins(["status", "--lsb", "crash", "idle", "nope"], d)
    check(r.returncode == 4, f"--lsb with several: 4 before 1: {show(r)}")
    r = reins(["status", "--lsb", "idle"], d)
    check(r.returncode == 0, f"--lsb idle: 0: {show(r)}")
    # `reins restart NAME` closes the circuit.
    r = reins(["restart", "crash"], d)
    check(r.returncode == 0 and "crash" in ready_lines(r.stderr), f"restart of a failed service starts it: {show(r)}")
    s = service(status_json(d, ["crash"])[1], "crash") or {}
    check(s.get("state") in ("running", "restarting"), f"crash runs again: {s}")


if __name__ == "__main__":
    main(globals())
