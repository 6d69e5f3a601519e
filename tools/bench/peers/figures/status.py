"""Latency of the supervisor's status command, as a whole process.

From before its fork to its exit, as a script would see it (median of N,
after 3 warm-up runs). The floor is `true` started the same way.
"""

import shutil
import subprocess
import time

import procs
import workspace
from figures.common import NA, Value, median, ms, session

NAME = "status"
ROWS = [("status", "`status` query of one service, whole command (median of {runs})", "ms")]


def timed(argv, env, runs):
    out, failures = [], 0
    for i in range(runs + 3):
        t0 = time.perf_counter()
        rc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env).returncode
        took = time.perf_counter() - t0
        failures += rc != 0
        if i >= 3:
            out.append(ms(took))
    return median(out), failures


def floor(runs):
    return timed([shutil.which("true") or "/bin/true"], None, runs)[0]


def measure(peer_class, ws, opts):
    if not peer_class.has_status:
        return {"status": NA("no status command")}
    with session(peer_class, ws, "status") as peer:
        log = ws.child_log(peer.dir, "st")
        peer.define("st", [ws.child, "--log", log])
        peer.boot()
        if not procs.wait_until(lambda: workspace.events(log, "exec"), 30):
            raise RuntimeError("the service did not start")
        took, failures = timed(peer.status_cmd("st"), peer.env, opts.runs)
    if failures:
        raise RuntimeError(f"the status command failed {failures} times")
    return {"status": Value(took)}
