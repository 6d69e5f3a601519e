#!/usr/bin/env python3
"""`reins run` (foreground supervision) against the real binary.

Usage: run_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
docs/cli.md, Foreground (exit codes of `run`, output `NAME | line`, ready
lines, Ctrl-C stops in order, a second Ctrl-C kills), docs/config.md `stop`
(SIGKILL at stop.timeout), docs/reliability.md (after Ctrl-C no process
left and the port is free).
"""
import os
import re
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import (FIXTURE, READY_RX, STARTED_RX, alive, check, http_get, main, port_free, ready_lines, reins,
                           run_fg, read, show, start_ok, toml_cmd, track, wait_for, wait_gone, write)


def test_own_exit_status(d):
    r = reins(["run", "--restart", "no", "--", "sh", "-c", "echo hello; echo oops >&2; exit 7"], d, timeout=30)
    check(r.returncode == 7, f"run exits with the command's status 7: {show(r)}")
    out = r.stdout.splitlines()
    check("sh | hello" in out and "sh | oops" in out, f"both streams on stdout as `NAME | line`: {r.stdout!r}")
    check("hello" not in r.stderr and "oops" not in r.stderr, f"service lines are not on stderr: {r.stderr!r}")
    check(all(l.startswith("reins:") for l in r.stderr.splitlines()), f"stderr lines prefixed: {r.stderr!r}")
    r = reins(["run", "--restart", "no", "--name", "job", "--", "sh", "-c", "echo done"], d, timeout=30)
    check(r.returncode == 0, f"a clean exit is 0: {show(r)}")
    check("job | done" in r.stdout.splitlines(), f"--name names the output: {r.stdout!r}")
    # A shell command line is one argument too: the command is `sh`.
    r = reins(["run", "--restart", "no", "--", "sh", "-c", "exit 0"], d, timeout=30)
    check(r.returncode == 0, f"exit 0: {show(r)}")


def test_killed_by_signal(d):
    r = reins(["run", "--restart", "no", "--", FIXTURE, "--no-listen", "--exit-signal", "KILL"], d, timeout=30)
    check(r.returncode == 128 + 9, f"died of SIGKILL: 137: {show(r)}")
    r = reins(["run", "--restart", "no", "--", FIXTURE, "--no-listen", "--crash-after", "100ms",
               "--exit-signal", "SEGV"], d, timeout=30)
    check(r.returncode == 128 + 11, f"died of SIGSEGV: 139: {show(r)}")


def test_default_restart_policy(d):
    # on-failure, max 5 restarts: 6 runs, backoff 0.1+0.2+0.4+0.8+1.6 s (±10 % jitter), then its own status.
    t0 = time.monotonic()
    r = reins(["run", "--", "sh", "-c", "echo attempt; exit 7"], d, timeout=60)
    took = time.monotonic() - t0
    check(r.returncode == 7, f"a crash loop ends with the command's status: {show(r)}")
    runs = r.stdout.splitlines().count("sh | attempt")
    check(runs == 6, f"1 start + 5 restarts, found {runs} runs: {r.stdout!r}")
    check(2.5 <= took <= 20, f"backoff ~3.1 s in total, took {took:.2f}s")
    # However quickly the command exits, with no readiness probe it was running
    # (ready once spawned): the policy restarts it. Repeated, as a race shows
    # only some of the time.
    one_run = 0
    for _ in range(20):
        r = reins(["run", "--max-restarts", "1", "--", "sh", "-c", "echo attempt; exit 7"], d, timeout=30)
        if r.returncode != 7 or r.stdout.splitlines().count("sh | attempt") != 2:
            one_run += 1
            last = r
    check(one_run == 0, f"--max-restarts 1: 2 runs and exit 7 every time; {one_run}/20 were not: {show(last) if one_run else ''}")


def test_spawn_failure(d):
    missing = os.path.join(d, "no-such-program")
    r = reins(["run", "--", missing, "--flag"], d, timeout=30)
    check(r.returncode == 3, f"spawn failure exits 3: {show(r)}")
    check(missing in r.stderr, f"the message names the program: {r.stderr!r}")
    check("reins:" in r.stderr, "said on stderr")


def test_busy_port(d):
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        marker = os.path.join(d, "spawned")
        r = reins(["run", "--port", str(port), "--", "sh", "-c", f"touch {marker}; sleep 30"], d, timeout=30)
        check(r.returncode == 2, f"busy port exits 2: {show(r)}")
        check(str(port) in r.stderr, f"the message names the port: {r.stderr!r}")
        check(f"pid {os.getpid()}" in r.stderr, f"the message names the holder pid {os.getpid()}: {r.stderr!r}")
        check(not os.path.exists(marker), "the command was not spawned")
    finally:
        holder.close()


def test_ready_line_and_ctrl_c(d):
    for sig in (signal.SIGINT, signal.SIGTERM):
        fg = run_fg(["run", "--restart", "no", "--port", "auto", "--ready", "tcp", "--",
                     FIXTURE, "--port", "$PORT"], d)
        m = fg.wait_line(READY_RX, 30)
        if not check(m is not None, f"ready line: {fg.stderr_text()!r}"):
            fg.wait(1)
            return
        name, port, pid = m.group(1), int(m.group(2)), int(m.group(3))
        track(pid)
        check(name == "reins-fixture", f"name is the basename of the command: {name}")
        check(alive(pid), "the service pid is alive")
        check(http_get(port, "/ready") == 200, f"the fixture answers on the announced port {port} ($PORT replaced)")
        out_line = fg.wait_line(rf"^reins-fixture \| fixture: listening on 127\.0\.0\.1:{port}$", 5, stream="out")
        check(out_line is not None, f"the service's output as `NAME | line`: {fg.stdout_text()!r}")
        fg.signal(sig)
        code = fg.wait(20)
        check(code == 0, f"{sig.name} to reins run: exit 0, got {code}: {fg.stderr_text()!r}")
        check(wait_gone(pid, 5), f"service pid {pid} gone after {sig.name}")
        check(wait_for(lambda: port_free(port), 5), f"port {port} free after {sig.name}")


def test_started_line_without_readiness_check(d):
    # Without a readiness check nothing is known but the spawn: "started", not "ready".
    fg = run_fg(["run", "--port", "auto", "--", FIXTURE, "--no-listen"], d)
    m = fg.wait_line(STARTED_RX, 30)
    if not check(m is not None, f"started line: {fg.stderr_text()!r}"):
        fg.wait(1)
        return
    track(int(m.group(3)))
    check(m.group(1) == "reins-fixture" and m.group(2) and int(m.group(2)) > 0,
          f"`NAME started on port P (pid N)`: {m.group(0)!r}")
    check(" ready" not in fg.stderr_text(), f"no ready line: {fg.stderr_text()!r}")
    fg.signal(signal.SIGTERM)
    check(fg.wait(20) == 0, "SIGTERM: exit 0")
    r, ready = start_ok(d, ["--name", "plain", "--", FIXTURE, "--no-listen"], "start --name plain")
    check(re.search(r"^reins: plain started \(pid \d+\)$", r.stderr, re.M) and " ready" not in r.stderr,
          f"reins start: a started line, no ready line: {r.stderr!r}")
    r = reins(["stop"], d, timeout=30)
    check(r.returncode == 0, f"stop: {show(r)}")


def test_ctrl_c_leaves_no_grandchild(d):
    # Nothing left behind, whatever way the child forked its helper.
    for mode in ("setsid", "double-fork", "plain"):
        fg = run_fg(["run", "--restart", "no", "--port", "auto", "--ready", "tcp", "--stop-timeout", "2s", "--",
                     FIXTURE, "--port", "$PORT", "--grandchild-mode", mode], d)
        m = fg.wait_line(READY_RX, 30)
        g = fg.wait_line(r"fixture: grandchild pid (\d+) listening on 127\.0\.0\.1:(\d+)", 10, stream="out")
        if not check(m and g, f"{mode}: ready, grandchild line: {fg.stdout_text()!r} {fg.stderr_text()!r}"):
            fg.wait(1)
            return
        port, pid, gpid, gport = int(m.group(2)), int(m.group(3)), int(g.group(1)), int(g.group(2))
        track(pid)
        track(gpid)
        check(alive(gpid) and not port_free(gport), f"{mode}: the grandchild holds its port")
        fg.signal(signal.SIGINT)
        code = fg.wait(20)
        check(code == 0, f"{mode}: Ctrl-C: exit 0, got {code}")
        check(not alive(pid) and not alive(gpid), f"{mode}: child {pid} and grandchild {gpid} gone when run returns")
        check(port_free(port) and port_free(gport), f"{mode}: both ports free")


def test_second_ctrl_c_kills(d):
    record = os.path.join(d, "record")
    # Ready once it printed "armed": its signal handlers are in place by then.
    fg = run_fg(["run", "--restart", "no", "--stop-timeout", "30s", "--ready", "log:^armed$", "--",
                 FIXTURE, "--no-listen", "--ignore-term", "--record", record, "--print-ready", "armed"], d)
    m = fg.wait_line(READY_RX, 30)
    if not check(m is not None, f"ready line: {fg.stderr_text()!r}"):
        fg.wait(1)
        return
    pid = int(m.group(3))
    track(pid)
    check(m.group(2) is None, f"no 'on http://...' without a port: {m.group(0)!r}")
    fg.signal(signal.SIGINT)
    check(wait_for(lambda: "signal SIG" in read(record, ""), 10),
          "the stop signal reached the service")
    time.sleep(0.5)
    check(fg.p.poll() is None and alive(pid), "still stopping: the service ignores SIGTERM, 30 s grace")
    t0 = time.monotonic()
    fg.signal(signal.SIGINT)
    code = fg.wait(20)
    took = time.monotonic() - t0
    check(code == 130, f"a second Ctrl-C: exit 130, got {code}: {fg.stderr_text()!r}")
    check(took < 5, f"the second Ctrl-C kills at once, took {took:.2f}s")
    check(wait_gone(pid, 5), f"service pid {pid} gone after the second Ctrl-C")


def test_sigkill_at_stop_timeout(d):
    record = os.path.join(d, "record")
    fg = run_fg(["run", "--restart", "no", "--port", "auto", "--ready", "tcp", "--stop-timeout", "1s", "--",
                 FIXTURE, "--ignore-term", "--record", record], d)
    m = fg.wait_line(READY_RX, 30)
    if not check(m is not None, f"ready line: {fg.stderr_text()!r}"):
        fg.wait(1)
        return
    port, pid = int(m.group(2)), int(m.group(3))
    track(pid)
    t0 = time.monotonic()
    fg.signal(signal.SIGTERM)
    check(wait_gone(pid, 10), "the TERM-ignoring service is killed")
    killed_after = time.monotonic() - t0
    code = fg.wait(20)
    check(code == 0, f"SIGTERM to reins run: exit 0 even when the service needed SIGKILL, got {code}")
    check(0.5 <= killed_after <= 3.0, f"SIGKILL at stop.timeout 1 s (generous bounds), was {killed_after:.2f}s")
    rec = read(record, "")
    check("signal SIGTERM" in rec, f"SIGTERM came first: {rec!r}")
    check("exit code=" not in rec, f"it did not exit by itself: {rec!r}")
    check(port_free(port), f"port {port} free")


TWO_SERVICES = '''version = 1
[service.api]
command = {api}
port = "auto"
ready = {{ http = "/ready" }}
restart = "no"

[service.web]
command = {web}
port = "auto"
ready = {{ tcp = true }}
depends_on = ["api"]
restart = "no"
'''


def test_two_services_ctrl_c(d):
    write(d, "reins.toml", TWO_SERVICES.format(
        api=toml_cmd([FIXTURE, "--port", "${PORT}", "--ready-after", "300ms"]),
        web=toml_cmd([FIXTURE, "--port", "${PORT}"])))
    fg = run_fg(["run"], d)
    both = wait_for(lambda: len(ready_lines(fg.stderr_text())) == 2 and ready_lines(fg.stderr_text()), 30)
    if not check(both, f"both services ready: {fg.stderr_text()!r}"):
        fg.wait(1)
        return
    for port, pid in both.values():
        track(pid)
    err = fg.stderr_text()
    check(err.index("reins: api ready") < err.index("reins: web ready"), f"api (dependency) ready first: {err!r}")
    (api_port, api_pid), (web_port, web_pid) = both["api"], both["web"]
    check(api_port != web_port and http_get(api_port, "/ready") == 200 and http_get(web_port, "/") == 200,
          "both answer on their ports")
    out = fg.stdout_text()
    check(f"api | fixture: listening on 127.0.0.1:{api_port}" in out and
          f"web | fixture: listening on 127.0.0.1:{web_port}" in out, f"prefixed output of both: {out!r}")
    fg.signal(signal.SIGINT)
    code = fg.wait(30)
    check(code == 0, f"Ctrl-C of a two-service run: exit 0, got {code}: {fg.stderr_text()!r}")
    for name, (port, pid) in both.items():
        check(wait_gone(pid, 5), f"{name} pid {pid} gone")
        check(wait_for(lambda: port_free(port), 5), f"{name} port {port} free")


def test_services_end_on_their_own(d):
    # The services live a little while (no race with "ready once spawned");
    # quick exits are checked at the end.
    write(d, "reins.toml", f'''version = 1
[service.one]
command = "sleep 0.2; echo one-ran"
restart = "no"
[service.two]
command = "sleep 0.2; echo two-ran; exit 4"
restart = "no"
[service.three]
command = "sleep 0.2; echo three-ran"
restart = "no"
[service.quick]
command = "echo quick-ran"
restart = "no"
''')
    r = reins(["run", "one", "three"], d, timeout=30)
    check(r.returncode == 0, f"all named services ended cleanly: 0: {show(r)}")
    check(re.search(r"^one +\| one-ran$", r.stdout, re.M) and re.search(r"^three \| three-ran$", r.stdout, re.M),
          f"both ran, names aligned: {r.stdout!r}")
    check("two-ran" not in r.stdout, f"an unnamed service does not run: {r.stdout!r}")
    r = reins(["run", "one", "two", "three"], d, timeout=30)
    check(r.returncode == 3, f"a service exiting 4 makes `run` of several services exit 3: {show(r)}")
    check(re.search(r"^two +\| two-ran$", r.stdout, re.M), f"two ran: {r.stdout!r}")
    r = reins(["run", "nope"], d, timeout=30)
    check(r.returncode in (1, 3) and "nope" in r.stderr, f"run of an unknown service fails naming it: {show(r)}")
    # A service without readiness probe that exits 0 at once ended cleanly (repeated: a race).
    bad = [show(r) for r in (reins(["run", "one", "quick"], d, timeout=30) for _ in range(5)) if r.returncode != 0]
    check(not bad, f"`run one quick`: 0 every time, {len(bad)}/5 were not: {bad[:1]}")


def test_run_bad_arguments(d):
    r = reins(["run", "--restart", "sometimes", "--", "true"], d, timeout=30)
    check(r.returncode == 3 and "--restart" in r.stderr, f"bad --restart value: {show(r)}")
    r = reins(["run", "--bogus", "--", "true"], d, timeout=30)
    check(r.returncode == 3 and "--bogus" in r.stderr, f"unknown option: {show(r)}")
    r = reins(["run"], d, timeout=30)
    check(r.returncode == 3 and "reins.toml" in r.stderr, f"run with no config and no command: {show(r)}")
    write(d, "reins.toml", "version = 1\n[service.api]\ncommand = 5\n")
    r = reins(["run"], d, timeout=30)
    check(r.returncode == 3 and "service.api.command" in r.stderr, f"invalid config: {show(r)}")


if __name__ == "__main__":
    main(globals())
