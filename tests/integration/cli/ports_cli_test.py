#!/usr/bin/env python3
"""Ports, as a user sees them, against the real binary.

Usage: ports_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
- a port range (or prefer + range) with every port taken exits 2, and the
  message names the holder of the first port, as for a fixed port;
- `--port-base N` numbers a Procfile's ports (N + 100 x index) for `run`
  and `start`, not only for `check`.
"""
import json
import os
import random
import re
import signal
import socket
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import (FIXTURE, check, main, port_free, ready_lines, reins, run_fg, show, start_ok, status_json,
                           service, toml_cmd, track, wait_for, wait_gone, write)


def hold_ports(n):
    """`n` consecutive ports on 127.0.0.1 held (listening) by this test: (first, sockets)."""
    for _ in range(200):
        base = random.randint(20000, 29000)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
                s.listen(1)
            return base, socks
        except OSError:
            for s in socks:
                s.close()
    raise RuntimeError("no run of free ports found")


def free_base(step, count):
    """A port P with P, P+step, ... (count ports) all free."""
    for _ in range(200):
        base = random.randint(20000, 29000)
        if all(port_free(base + i * step) for i in range(count)):
            return base
    raise RuntimeError("no free ports found")


def busy_checks(r, what, first):
    check(r.returncode == 2, f"{what}: exit 2 (a port is in use): {show(r)}")
    check(f"port {first} is in use by pid {os.getpid()} (" in r.stderr,
          f"{what}: names the holder of port {first} (this test, pid {os.getpid()}): {r.stderr!r}")


def test_full_range(d):
    first, socks = hold_ports(3)
    try:
        rng = f"{first}-{first + 2}"
        marker = os.path.join(d, "spawned")
        cmd = ["sh", "-c", f"touch {marker}; sleep 30"]
        r = reins(["start", "--name", "x", "--port", rng, "--", *cmd], d, timeout=60)
        busy_checks(r, "start --port A-B", first)
        check(rng in r.stderr, f"the message names the range {rng}: {r.stderr!r}")
        r = reins(["run", "--port", rng, "--", *cmd], d, timeout=60)
        busy_checks(r, "run --port A-B", first)
        check(not os.path.exists(marker), "nothing was spawned")
    finally:
        for s in socks:
            s.close()


def test_full_prefer_range(d):
    first, socks = hold_ports(3)
    try:
        # Preferred port: the range's last one, so the first tried is not the range's first.
        prefer = first + 2
        write(d, "reins.toml", f'''version = 1
[service.db]
command = ["sleep", "30"]
port = {{ prefer = {prefer}, range = "{first}-{first + 1}" }}
''')
        r = reins(["start"], d, timeout=60)
        busy_checks(r, "start of prefer + range", prefer)
        r = reins(["run"], d, timeout=60)
        busy_checks(r, "run of prefer + range", prefer)
    finally:
        for s in socks:
            s.close()


PROCFILE = '''web: echo web port=$PORT; exec sleep 60
worker: echo worker port=$PORT; exec sleep 60
'''


def test_port_base_run(d):
    write(d, "Procfile", PROCFILE)
    base = free_base(100, 2)
    fg = run_fg(["run", "--port-base", str(base)], d)
    web = fg.wait_line(rf"^web +\| web port=(\d+)$", 30, stream="out")
    worker = fg.wait_line(rf"^worker \| worker port=(\d+)$", 30, stream="out")
    check(web and int(web.group(1)) == base, f"web gets PORT={base}: {fg.stdout_text()!r} {fg.stderr_text()!r}")
    check(worker and int(worker.group(1)) == base + 100,
          f"worker gets PORT={base + 100}: {fg.stdout_text()!r}")
    started = wait_for(lambda: len(ready_lines(fg.stderr_text())) == 2 and ready_lines(fg.stderr_text()), 10)
    for port, pid in (started or {}).values():
        track(pid)
    fg.signal(signal.SIGTERM)
    code = fg.wait(20)
    check(code == 0, f"SIGTERM: exit 0, got {code}: {fg.stderr_text()!r}")
    r = reins(["run", "--port-base", "x"], d, timeout=30)
    check(r.returncode == 3 and "--port-base" in r.stderr, f"a bad --port-base: exit 3: {show(r)}")


def test_port_base_start(d):
    write(d, "Procfile", PROCFILE)
    base = free_base(100, 2)
    r, ready = start_ok(d, ["--port-base", str(base)], "start --port-base")
    check(ready.get("web", (0,))[0] == base and ready.get("worker", (0,))[0] == base + 100,
          f"the started lines show ports {base} and {base + 100}: {r.stderr!r}")
    r, doc = status_json(d)
    check(r.returncode == 0, f"status: exit 0: {show(r)}")
    check(service(doc, "web") and service(doc, "web")["port"] == base, f"web on port {base}: {r.stdout!r}")
    check(service(doc, "worker") and service(doc, "worker")["port"] == base + 100,
          f"worker on port {base + 100}: {r.stdout!r}")
    r = reins(["stop"], d, timeout=30)
    check(r.returncode == 0, f"stop: {show(r)}")
    # A reins.toml sets its ports itself: --port-base is an error there, as with a single command.
    os.remove(os.path.join(d, "Procfile"))
    write(d, "reins.toml", 'version = 1\n[service.a]\ncommand = ["sleep", "30"]\n')
    r = reins(["start", "--port-base", str(base)], d, timeout=30)
    check(r.returncode == 3 and "--port-base" in r.stderr, f"--port-base with reins.toml: exit 3: {show(r)}")
    r = reins(["run", "--port-base", str(base), "--", "sleep", "30"], d, timeout=30)
    check(r.returncode == 3 and "--port-base" in r.stderr, f"--port-base with a command: exit 3: {show(r)}")


if __name__ == "__main__":
    main(globals())
