#!/usr/bin/env python3
"""Stopping, as a user sees it, against the real binary.

Usage: stopping_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
- `reins run` stopped by `reins stop` from another terminal exits 0, like
  after Ctrl-C or SIGTERM (only a service ending on its own passes its
  status through);
- a stop that waits longer than 2 s says which pid and command it waits
  for and when SIGKILL comes (`reins stop`, and `reins run` on SIGTERM);
  a prompt stop says nothing of the kind;
- a restart after a liveness failure (a hung service) skips stop.pre and
  stop.http and goes straight to the signal, unless
  stop.hooks_when_unhealthy = true; a stop asked for runs them.
"""
import os
import re
import signal
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import (FIXTURE, STARTED_RX, READY_RX, alive, check, main, read, ready_lines, reins, run_fg,
                           service, show, start_ok, status_json, toml_cmd, track, wait_for, wait_gone, write)

WAIT_RX = r"reins: waiting for pid (\d+) \((.+)\) to exit; SIGKILL in (\d+)s"


def started_run(d, args, what):
    """`reins run ARGS` in the background, once its service runs: (fg, pid) or (fg, None)."""
    fg = run_fg(["run", *args], d)
    m = fg.wait_line(STARTED_RX + "|" + READY_RX, 30)
    if not check(m is not None, f"{what}: started: {fg.stderr_text()!r}"):
        fg.wait(1)
        return fg, None
    pid = int(ready_lines(m.group(0)).popitem()[1][1])
    track(pid)
    return fg, pid


def test_run_exits_0_after_reins_stop(d):
    # `sleep` dies of the SIGTERM: its own status would be 143.
    for stop_args in (["stop"], ["stop", "sleep"]):
        what = "reins " + " ".join(stop_args)
        fg, pid = started_run(d, ["--", "sleep", "60"], what)
        if pid is None:
            return
        r = reins(stop_args, d, timeout=30)
        check(r.returncode == 0, f"{what}: exit 0: {show(r)}")
        code = fg.wait(20)
        check(code == 0, f"reins run stopped by `{what}` exits 0, got {code}: {fg.stderr_text()!r}")
        check(wait_gone(pid, 5), f"{what}: the service pid {pid} is gone")
    # SIGTERM to reins run: 0 as well; a command ending on its own keeps its status.
    fg, pid = started_run(d, ["--", "sleep", "60"], "SIGTERM")
    if pid is None:
        return
    fg.signal(signal.SIGTERM)
    code = fg.wait(20)
    check(code == 0, f"SIGTERM to reins run: exit 0, got {code}")
    r = reins(["run", "--restart", "no", "--", "sh", "-c", "sleep 0.3; kill -TERM $$"], d, timeout=30)
    check(r.returncode == 143, f"a command killed by SIGTERM on its own: 143: {show(r)}")


def test_stop_says_what_it_waits_for(d):
    # Ready once it printed "armed": its SIGTERM handler is in place by then.
    _, ready = start_ok(d, ["--name", "slow", "--ready", "log:^armed$", "--stop-timeout", "5s", "--",
                            FIXTURE, "--no-listen", "--ignore-term", "--print-ready", "armed"], "start slow")
    if not check("slow" in ready, "slow started"):
        return
    pid = ready["slow"][1]
    t0 = time.monotonic()
    r = reins(["stop"], d, timeout=60)
    took = time.monotonic() - t0
    check(r.returncode == 0, f"stop: exit 0: {show(r)}")
    check(took >= 3, f"the service ignores SIGTERM: the stop waits for SIGKILL at 5 s, took {took:.2f}s")
    lines = re.findall(WAIT_RX, r.stderr)
    check(len(lines) == 1, f"stderr is not a terminal: exactly one waiting line: {r.stderr!r}")
    if lines:
        wpid, command, secs = lines[0]
        check(int(wpid) == pid, f"it names the service's pid {pid}: {lines[0]}")
        check("reins-fixture" in command and "--ignore-term" in command, f"and its command: {command!r}")
        check(1 <= int(secs) <= 4, f"SIGKILL in 1-4 s (asked after 2 s of a 5 s grace): {secs}")
    check(wait_gone(pid, 5), f"pid {pid} gone")
    check("\r" not in r.stderr and "\x1b" not in r.stderr, f"no terminal control codes on a pipe: {r.stderr!r}")

    # A prompt stop says nothing of the kind.
    _, ready = start_ok(d, ["--name", "quick", "--", FIXTURE, "--no-listen"], "start quick")
    if not check("quick" in ready, "quick started"):
        return
    r = reins(["stop", "quick"], d, timeout=30)
    check(r.returncode == 0 and "waiting for" not in r.stderr, f"a prompt stop prints no waiting line: {show(r)}")
    r = reins(["stop"], d, timeout=30)
    check(r.returncode == 0 and "waiting for" not in r.stderr, f"nor a prompt shutdown: {show(r)}")


def test_run_says_what_its_stop_waits_for(d):
    record = os.path.join(d, "record")
    fg, pid = started_run(d, ["--restart", "no", "--ready", "log:^armed$", "--stop-timeout", "5s", "--",
                              FIXTURE, "--no-listen", "--ignore-term", "--record", record, "--print-ready", "armed"],
                          "slow run")
    if pid is None:
        return
    fg.signal(signal.SIGTERM)
    check(wait_for(lambda: "signal SIGTERM" in read(record, ""), 10), "the stop signal reached the service")
    code = fg.wait(30)
    check(code == 0, f"SIGTERM to reins run: exit 0 after the SIGKILL, got {code}: {fg.stderr_text()!r}")
    lines = re.findall(WAIT_RX, fg.stderr_text())
    check(len(lines) == 1 and int(lines[0][0]) == pid,
          f"one waiting line naming pid {pid}: {fg.stderr_text()!r}")
    check(not alive(pid), f"pid {pid} gone")


class HookServer:
    """A loopback HTTP endpoint for stop.pre / stop.http that records each
    request line. hang=True: it reads the request and never answers (a hung
    checkpoint); else it answers 503 at once."""

    def __init__(self):
        self.hang = True
        self.requests = []
        self.held = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(2)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            self.requests.append(data.split(b"\r\n", 1)[0].decode(errors="replace"))
            if self.hang:
                self.held.append(conn)
                continue
            try:
                conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            conn.close()

    def close(self):
        self.done.set()
        self.thread.join(5)
        self.sock.close()
        for c in self.held:
            c.close()


def hung_service_config(d, hooks, pre_timeout):
    """`api`: ready once it listens (tcp), but its /health never answers
    (failing after 2 x 300 ms); `steady`: the same, healthy. The stop.pre and
    stop.http of both go to a HookServer."""
    hook = HookServer()
    stop = (f'stop = {{ pre = "POST http://127.0.0.1:{hook.port}/checkpoint", '
            f'http = "POST http://127.0.0.1:{hook.port}/shutdown", pre_timeout = "{pre_timeout}", timeout = "30s", '
            f'hooks_when_unhealthy = {"true" if hooks else "false"} }}')
    write(d, "reins.toml", f'''version = 1
[defaults]
port = "auto"
ready = {{ tcp = true }}
health = {{ http = "/health", interval = "200ms", timeout = "300ms", failures = 2 }}
restart = {{ backoff = {{ initial = "50ms" }} }}
{stop}

[service.api]
command = {toml_cmd([FIXTURE, "--port", "${PORT}", "--probe-mode", "silent"])}

[service.steady]
command = {toml_cmd([FIXTURE, "--port", "${PORT}"])}
''')
    return hook


def restarts(d):
    _, doc = status_json(d)
    s = service(doc, "api")
    if s and s.get("pid"):
        track(s["pid"])
    return s.get("restarts", 0) if s else 0


def test_a_hung_service_is_restarted_without_its_stop_hooks(d):
    hook = hung_service_config(d, hooks=False, pre_timeout="20s")
    try:
        _, ready = start_ok(d)
        if not check("api" in ready and "steady" in ready, f"api and steady started: {ready}"):
            return
        t0 = time.monotonic()
        # Waiting out stop.pre's 20 s would miss this bound by far.
        restarted = wait_for(lambda: restarts(d) >= 1, 10)
        took = time.monotonic() - t0
        check(restarted, f"the unhealthy api was restarted within 10 s (stop.pre's timeout is 20 s): {took:.1f}s")
        check(hook.requests == [], f"neither stop.pre nor stop.http was called for it: {hook.requests}")
        # A stop asked for still runs both (the hook answers 503 now: no wait).
        hook.hang = False
        r = reins(["stop", "steady"], d, timeout=60)
        check(r.returncode == 0, f"stop steady: {show(r)}")
        check(any("/checkpoint" in q for q in hook.requests) and any("/shutdown" in q for q in hook.requests),
              f"`reins stop` ran stop.pre and stop.http: {hook.requests}")
        r = reins(["stop"], d, timeout=60)
        check(r.returncode == 0, f"stop: {show(r)}")
    finally:
        hook.close()


def test_hooks_when_unhealthy_runs_them_for_a_hung_service(d):
    hook = hung_service_config(d, hooks=True, pre_timeout="1s")
    try:
        _, ready = start_ok(d)
        if not check("api" in ready and "steady" in ready, f"api and steady started: {ready}"):
            return
        check(wait_for(lambda: restarts(d) >= 1, 20), "the unhealthy api was restarted")
        check(any("/checkpoint" in q for q in hook.requests),
              f"with hooks_when_unhealthy = true, stop.pre was called for it: {hook.requests}")
        hook.hang = False
        r = reins(["stop"], d, timeout=60)
        check(r.returncode == 0, f"stop: {show(r)}")
    finally:
        hook.close()


if __name__ == "__main__":
    main(globals())
