#!/usr/bin/env python3
"""A service's stdout and stderr are real pipes, as in a shell pipeline.

Usage: pipes_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
Programs that log to /dev/stdout or /dev/stderr (nginx, many container
images) reopen those paths: that works on a pipe and fails with ENXIO on a
socket. Programs that check S_ISFIFO on their fds see what a terminal
pipeline gives them.
"""
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import check, main, reins, show, start_ok, toml_str, write

FSTAT = "import os, stat; print(stat.S_ISFIFO(os.fstat(1).st_mode), stat.S_ISFIFO(os.fstat(2).st_mode))"


def test_run_writes_through_dev_stdout_and_stderr(d):
    r = reins(["run", "--restart", "no", "--", "sh", "-c", "echo out > /dev/stdout; echo err > /dev/stderr"], d,
              timeout=30)
    check(r.returncode == 0, f"exit 0: {show(r)}")
    out = r.stdout.splitlines()
    check("sh | out" in out and "sh | err" in out, f"both lines as `sh | line`: {r.stdout!r}")
    check("No such device" not in r.stdout + r.stderr, f"no ENXIO: {show(r)}")


def test_run_stdio_are_fifos(d):
    r = reins(["run", "--restart", "no", "--", "python3", "-c", FSTAT], d, timeout=30)
    check(r.returncode == 0 and "python3 | True True" in r.stdout.splitlines(),
          f"fd 1 and 2 are FIFOs (fstat): {show(r)}")
    r = reins(["run", "--restart", "no", "--name", "t", "--", "sh", "-c",
               "test -p /dev/stdout && echo out-fifo; test -p /dev/stderr && echo err-fifo >&2; true"], d, timeout=30)
    out = r.stdout.splitlines()
    check(r.returncode == 0 and "t | out-fifo" in out and "t | err-fifo" in out,
          f"test -p /dev/stdout and /dev/stderr: {show(r)}")


def test_daemon_service_logs_to_dev_stderr(d):
    # The container-image habit: an access log on /dev/stdout, errors on /dev/stderr.
    script = "echo access > /dev/stdout; echo error > /dev/stderr; echo started; exec sleep 60"
    write(d, "reins.toml", f'''version = 1
[service.web]
command = {toml_str(script)}
ready = {{ log = "^started$" }}
''')
    r, ready = start_ok(d)
    if not check("web" in ready, f"web ready: {show(r)}"):
        return
    r = reins(["logs", "web"], d, timeout=30)
    check(r.returncode == 0, f"logs web: 0: {show(r)}")
    check(re.search(r"\bout access$", r.stdout, re.M) and re.search(r"\berr error$", r.stdout, re.M),
          f"both lines stored, each from its stream: {r.stdout!r}")
    r = reins(["stop"], d, timeout=60)
    check(r.returncode == 0, f"stop: 0: {show(r)}")


if __name__ == "__main__":
    main(globals())
