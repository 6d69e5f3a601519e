"""Supervisor CPU per restart of a crash loop.

The child exits 1 at once, for ever. After 2 s of warm-up: the CPU ticks
(utime + stime) of the supervisor's own processes over the window (not the
children's: their exec and exit are theirs), divided by the restarts done
in it (exec lines the children logged). Supervisors that throttle restarts
to one a second do few of them, each cheap.
"""

import time

import procs
import workspace
from figures.common import NA, Value, session

NAME = "crashloop"
ROWS = [("crash_cpu", "supervisor CPU per crash-loop restart (child exits 1 at once, {crash}s)", "ms")]


def measure(peer_class, ws, opts):
    if not peer_class.restarts:
        return {"crash_cpu": NA("does not restart a service")}
    with session(peer_class, ws, "crashloop") as peer:
        log = ws.child_log(peer.dir, "cl")
        peer.define("cl", [ws.child, "--exit-after", "0", "--code", "1", "--log", log])
        peer.boot()
        time.sleep(2)
        pids = peer.own_pids()
        before, execs_before = procs.cpu_snapshot(pids), len(workspace.events(log, "exec"))
        t0 = time.monotonic()
        time.sleep(opts.crash)
        after, execs_after = procs.cpu_snapshot(peer.own_pids()), len(workspace.events(log, "exec"))
        seconds = time.monotonic() - t0
    restarts = execs_after - execs_before
    cpu_ms = procs.cpu_ticks_between(before, after) * 1000 / procs.TICK
    if restarts == 0:
        return {"crash_cpu": NA(f"no restart in {seconds:.0f} s (gave up?)")}
    return {"crash_cpu": Value(cpu_ms / restarts, detail=f"crash loop: {restarts} restarts in {seconds:.0f} s "
                                                         f"({restarts / seconds:.1f}/s), {cpu_ms:.0f} ms CPU")}
