#!/usr/bin/env python3
"""Commands that talk to a running supervisor need no config file.

Usage: no_config_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
In a folder without reins.toml or Procfile, after `reins start --name web
-- CMD`, `stop`, `restart`, `status`, `logs` and `start` of a service the
supervisor already has find it through the state directory alone. A
config that is present is still read for a service the supervisor does not
have yet.
"""
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import (FIXTURE, alive, check, main, ready_lines, reins, service, show, start_ok, status_json,
                           toml_cmd, track, wait_for, wait_gone, write)

WEB = ["--name", "web", "--", "sh", "-c", "echo hello-from-web; exec sleep 60"]


def start_web(d):
    r, ready = start_ok(d, WEB, "start --name web")
    check("web" in ready, f"web started: {r.stderr!r}")
    return ready.get("web", (None, 0))[1]


def test_commands_without_config(d):
    pid = start_web(d)
    if not pid:
        return
    r, doc = status_json(d)
    check(r.returncode == 0 and service(doc, "web") and service(doc, "web")["pid"] == pid,
          f"status --json: web, pid {pid}: {show(r)}")
    r = reins(["status", "web"], d, timeout=30)
    check(r.returncode == 0 and re.search(rf"^web +running .*{pid}", r.stdout, re.M), f"status web: {show(r)}")
    got = wait_for(lambda: "hello-from-web" in reins(["logs", "web"], d, timeout=30).stdout, 10)
    check(got, "logs web shows its output")
    r = reins(["logs"], d, timeout=30)
    check(r.returncode == 0 and "web | " in r.stdout and "hello-from-web" in r.stdout, f"logs: {show(r)}")

    r = reins(["start", "web"], d, timeout=30)
    check(r.returncode == 0 and f"already running (pid {pid})" in r.stderr, f"start web: already running: {show(r)}")
    r = reins(["start"], d, timeout=30)
    check(r.returncode == 0 and f"already running (pid {pid})" in r.stderr, f"start: already running: {show(r)}")

    r = reins(["restart", "web"], d, timeout=60)
    new = ready_lines(r.stderr).get("web", (None, 0))[1]
    check(r.returncode == 0 and new and new != pid, f"restart web: a new pid: {show(r)}")
    if new:
        track(new)
    check(wait_gone(pid, 5), f"the old pid {pid} is gone")

    r = reins(["stop", "web"], d, timeout=30)
    check(r.returncode == 0 and "stopped web" in r.stderr, f"stop web: {show(r)}")
    check(wait_gone(new, 5), f"pid {new} gone")
    r = reins(["start", "web"], d, timeout=60)
    again = ready_lines(r.stderr).get("web", (None, 0))[1]
    check(r.returncode == 0 and again and alive(again), f"start of the stopped web: {show(r)}")
    if again:
        track(again)

    r = reins(["restart", "nosuch"], d, timeout=30)
    check(r.returncode == 1 and "nosuch" in r.stderr and "web" in r.stderr,
          f"restart of a service the supervisor does not have: exit 1, naming what it has: {show(r)}")
    r = reins(["stop", "nosuch"], d, timeout=30)
    check(r.returncode == 1 and "nosuch" in r.stderr, f"stop nosuch: exit 1: {show(r)}")

    r = reins(["stop"], d, timeout=30)
    check(r.returncode == 0, f"stop: {show(r)}")
    check(wait_gone(again, 5), f"pid {again} gone")
    # No supervisor and no config: nothing to start.
    r = reins(["restart", "web"], d, timeout=30)
    check(r.returncode == 3 and "no reins.toml or Procfile" in r.stderr, f"restart without either: exit 3: {show(r)}")


def test_config_read_for_services_the_supervisor_lacks(d):
    pid = start_web(d)
    if not pid:
        return
    write(d, "reins.toml", f'''version = 1
[service.api]
command = {toml_cmd(["sleep", "60"])}
''')
    # web is not in reins.toml: the supervisor has it, that is enough.
    r = reins(["restart", "web"], d, timeout=60)
    new = ready_lines(r.stderr).get("web", (None, 0))[1]
    check(r.returncode == 0 and new and new != pid, f"restart web beside a reins.toml without it: {show(r)}")
    if new:
        track(new)
    r = reins(["start", "web"], d, timeout=30)
    check(r.returncode == 0 and "already running" in r.stderr, f"start web: {show(r)}")
    # nosuch is in neither: the config was read, and says so.
    r = reins(["start", "nosuch"], d, timeout=30)
    check(r.returncode == 1 and "no service called 'nosuch' in reins.toml" in r.stderr, f"start nosuch: {show(r)}")
    # A broken config is reported for a service the supervisor does not have.
    write(d, "reins.toml", 'version = 1\n[service.api]\ncommand = ["sleep", "60"]\nrestarts = 3\n')
    r = reins(["start", "api"], d, timeout=30)
    check(r.returncode == 3 and "restarts" in r.stderr, f"start api with a broken reins.toml: exit 3: {show(r)}")


if __name__ == "__main__":
    main(globals())
