#!/usr/bin/env python3
"""Readiness by a log line (`ready.log`, `--ready log:REGEX`) against the real binary.

Usage: ready_log_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
Whatever a service prints, matching its lines must take bounded time and
stack: a huge line before the ready line neither crashes the supervisor nor
hides the ready line (docs/config.md, `ready`). Invalid patterns are refused
before anything starts, naming the pattern.
"""
import os
import signal
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import (READY_RX, alive, check, main, reins, run_fg, show, start_ok, supervisor_pid,
                           toml_str, track, wait_gone, write)


def long_line_then_ready(n):
    """A shell command printing one line of `n` x's (no newline inside), then `ready`, then sleeping."""
    return f"head -c {n} /dev/zero | tr '\\0' x; echo; echo ready; exec sleep 60"


def test_run_long_line_before_ready(d):
    # std::regex matched ".*" by recursion, one frame per character: a
    # 60 000-character line overflowed the stack and the supervisor died of SIGSEGV.
    fg = run_fg(["run", "--restart", "no", "--name", "svc", "--ready", "log:.*ready", "--",
                 "sh", "-c", long_line_then_ready(60000)], d)
    m = fg.wait_line(READY_RX, 30)
    if not check(m is not None, f"ready after the long line: {fg.stderr_text()[-2000:]!r} (exit {fg.p.poll()})"):
        fg.wait(1)
        return
    pid = int(m.group(3))
    track(pid)
    check(fg.wait_line(r"^svc \| x{60000}$", 10, stream="out") is not None, "the long line is printed whole")
    check(fg.wait_line(r"^svc \| ready$", 10, stream="out") is not None, f"the ready line: {fg.stdout_text()[-300:]!r}")
    fg.signal(signal.SIGINT)
    code = fg.wait(20)
    check(code == 0, f"Ctrl-C: exit 0, got {code}: {fg.stderr_text()[-2000:]!r}")
    check(wait_gone(pid, 5), f"service pid {pid} gone")


def daemon_round_trip(d, line_size):
    write(d, "reins.toml", f'''version = 1
[service.svc]
command = {toml_str(long_line_then_ready(line_size))}
ready = {{ log = ".*ready", timeout = "60s" }}
restart = "no"
''')
    r, ready = start_ok(d, what=f"start after a {line_size}-byte line")
    if not check("svc" in ready, f"svc ready after a {line_size}-byte line: {show(r)}"):
        return
    pid = ready["svc"][1]
    sup = supervisor_pid(os.path.join(d, ".reins"))
    check(sup and alive(sup), f"the supervisor lives: {sup}")
    r = reins(["status", "svc"], d)
    check(r.returncode == 0, f"status svc: running: {show(r)}")
    r = reins(["stop"], d, timeout=60)
    check(r.returncode == 0, f"stop: 0: {show(r)}")
    check(wait_gone(pid, 5), f"service pid {pid} gone")
    check(not sup or wait_gone(sup, 10), "the daemon exited")


def test_start_long_line_before_ready(d):
    daemon_round_trip(d, 60000)


def test_start_ten_megabyte_line_before_ready(d):
    # Read and matched in 64 KiB pieces: each piece is matched in linear time.
    daemon_round_trip(d, 10 * 1000 * 1000)


def test_unsupported_pattern_refused(d):
    marker = os.path.join(d, "spawned")
    for pattern, what in (("(a)\\1", "backreference"), ("ready(?=!)", "lookahead")):
        r = reins(["run", "--restart", "no", "--ready", "log:" + pattern, "--", "sh", "-c", f"touch {marker}"], d)
        check(r.returncode == 3, f"{what}: exit 3: {show(r)}")
        check(toml_str(pattern) in r.stderr, f"{what}: the message names the pattern {pattern!r}: {r.stderr!r}")
        check("not supported" in r.stderr and "RE2" in r.stderr,
              f"{what}: the message says what is not supported: {r.stderr!r}")
        check(not os.path.exists(marker), f"{what}: nothing was spawned")
    write(d, "reins.toml", 'version = 1\n[service.svc]\ncommand = "true"\nready.log = "(a)\\\\1"\n')
    r = reins(["run"], d)
    check(r.returncode == 3 and "reins.toml:4" in r.stderr and "service.svc.ready.log" in r.stderr
          and "not supported" in r.stderr, f"reins.toml: the file, line and key: {show(r)}")


if __name__ == "__main__":
    main(globals())
