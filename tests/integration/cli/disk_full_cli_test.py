#!/usr/bin/env python3
"""A full disk under the logs, through the real `reins` binary.

Usage: disk_full_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
With the log folder full, reins stops reading the service's pipe (the
service blocks), says so in `status`, and resumes when space returns: no
line is lost or written twice. The full disk is a small tmpfs mounted on the
state directory's logs/ folder, which needs root: elsewhere the test says it
was skipped.
"""
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import FIXTURE, check, main, read, reins, show, start_ok, status_json, service, toml_cmd, wait_for, write

LINES = 20000  # --flood 2000000 bytes of 100-byte lines


def mount_tmpfs(path, size):
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", path], capture_output=True)
    return r.returncode == 0


def test_full_disk_holds_the_output_and_resumes(d):
    logs = os.path.join(d, ".reins", "logs")
    os.makedirs(logs, mode=0o700)
    os.chmod(os.path.join(d, ".reins"), 0o700)
    if os.geteuid() != 0 or not mount_tmpfs(logs, "256k"):
        print("skipped: mounting a small tmpfs needs root", file=sys.stderr)
        return
    try:
        write(d, "reins.toml", f'''version = 1
[service.flood]
command = {toml_cmd([FIXTURE, "--no-listen", "--flood", "2000000", "--line-length", "100"])}
restart = "no"
''')
        r, ready = start_ok(d)
        if not check("flood" in ready, f"started: {show(r)}"):
            return

        def stalled():
            _, doc = status_json(d)
            s = service(doc, "flood") or {}
            return s.get("logs_stalled")

        why = wait_for(stalled, 30)
        check(why and "space" in why.lower(), f"status --json says the log is stalled, and why: {why!r}")
        r = reins(["status"], d, timeout=30)
        check("logs stalled" in r.stdout, f"the status table says so: {show(r)}")
        # Space returns: the output flows again, every line once.
        subprocess.run(["mount", "-o", "remount,size=16m", logs], check=True)
        path = os.path.join(logs, "flood.log")
        rx = re.compile(r" out flood stdout (\d{10}) ")

        def numbers():
            return [int(m.group(1)) for m in rx.finditer(read(path, "") or "")]

        check(wait_for(lambda: len(numbers()) >= LINES, 60), f"all {LINES} lines arrive: {len(numbers())}")
        got = numbers()
        check(got == list(range(LINES)), f"each line once, in order: {len(got)} lines, "
                                         f"first gap at {next((i for i, n in enumerate(got) if n != i), None)}")
        check(wait_for(lambda: not stalled(), 10), "status no longer says stalled")
        r = reins(["stop"], d, timeout=60)
        check(r.returncode == 0, f"stop: {show(r)}")
    finally:
        reins(["stop"], d, timeout=60)
        subprocess.run(["umount", "-l", logs], capture_output=True)


if __name__ == "__main__":
    main(globals())
