#!/usr/bin/env python3
"""An idle daemon gives back the pages it no longer runs, through the real `reins` binary.

Usage: footprint_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
Two seconds after the last transition or request the daemon drops the clean
code and constant pages it touched while starting (docs/engine.md,
`trim_when_quiet`): its resident read-only file pages shrink, it answers the
next request as before (the code comes back from the page cache), and the
next quiet spell trims again.
"""
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import FIXTURE, check, main, reins, show, start_ok, supervisor_pid, toml_cmd, write


def resident_readonly_file_kb(pid):
    """Rss (kB) of the process's read-only, private, file-backed mappings."""
    total = 0
    counting = False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and not head[0].endswith(":"):
                perms = head[1]
                counting = len(head) > 5 and head[5].startswith("/") and perms[1] == "-" and perms[3] == "p"
            elif counting and head[0] == "Rss:":
                total += int(head[1])
    return total


def settle_below(pid, limit_kb, seconds):
    """Waits until the resident read-only file pages are below limit_kb; returns the last reading."""
    deadline = time.monotonic() + seconds
    kb = resident_readonly_file_kb(pid)
    while kb >= limit_kb and time.monotonic() < deadline:
        time.sleep(0.2)
        kb = resident_readonly_file_kb(pid)
    return kb


def test_quiet_daemon_gives_back_its_start_up_pages_and_still_answers(d):
    write(d, "reins.toml", f'''version = 1
[service.idle]
command = {toml_cmd([FIXTURE, "--no-listen"])}
''')
    r, ready = start_ok(d)
    if not check("idle" in ready, f"started: {show(r)}"):
        return
    pid = supervisor_pid(os.path.join(d, ".reins"))
    busy = resident_readonly_file_kb(pid)
    # The start-up touched far more than the idle loop needs: after the quiet
    # spell the daemon holds less than half of it.
    quiet = settle_below(pid, busy / 2, 15)
    check(quiet < busy / 2, f"resident code and constants {busy} kB after start, {quiet} kB once quiet (want < half)")
    # The code it needs comes back on use.
    r = reins(["status"], d, timeout=30)
    check(r.returncode == 0 and "idle" in r.stdout and "running" in r.stdout, f"status answers after the trim: {show(r)}")
    after_request = resident_readonly_file_kb(pid)
    check(after_request > quiet, f"a request maps code again ({quiet} → {after_request} kB)")
    # And a second quiet spell trims again.
    again = settle_below(pid, after_request / 2 + 1, 15)
    check(again <= after_request / 2 + 1, f"trimmed again after the request: {after_request} → {again} kB")
    r = reins(["stop"], d, timeout=60)
    check(r.returncode == 0, f"stop: {show(r)}")


if __name__ == "__main__":
    main(globals())
