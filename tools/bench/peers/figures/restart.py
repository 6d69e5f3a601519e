"""Child exit → next exec: how soon a supervisor replaces a service that exited.

The child exits 1 after 1.2 s (past every one-second throttle), then after
0.2 s (under them). It logs CLOCK_REALTIME at exec, first thing in main(),
and right before _exit(); a latency is the next instance's exec minus the
previous one's exit. Median over the restarts.
"""

import procs
import workspace
from figures.common import NA, Value, median, session

NAME = "restart"
ROWS = [
    ("restart_long", "child exit → next exec, child lived 1.2 s (median of {restarts})", "ms"),
    ("restart_short", "child exit → next exec, child lived 0.2 s (median of {restarts})", "ms"),
]


def latencies(log):
    """ms from each exit to the first exec after it."""
    execs = [ns for ns, _ in workspace.events(log, "exec")]
    out = []
    for ended, _ in workspace.events(log, "exit"):
        later = [ns for ns in execs if ns > ended]
        if later:
            out.append((min(later) - ended) / 1e6)
    return out


def one(peer_class, ws, lifetime_ms, restarts):
    with session(peer_class, ws, f"restart-{lifetime_ms}ms") as peer:
        log = ws.child_log(peer.dir, "rl")
        peer.define("rl", [ws.child, "--exit-after", str(lifetime_ms), "--code", "1", "--log", log])
        peer.boot()
        timeout = (restarts + 1) * (lifetime_ms + 2100) / 1000 + 15
        procs.wait_until(lambda: len(workspace.events(log, "exec")) > restarts, timeout, step=0.05)
    got = latencies(log)[:restarts]
    if not got:
        raise RuntimeError("no restart seen")
    return Value(median(got), detail=f"lived {lifetime_ms} ms: {len(got)} restarts, "
                                     f"min {min(got):.2f}, max {max(got):.2f} ms")


def measure(peer_class, ws, opts):
    if not peer_class.restarts:
        reason = "does not restart a service"
        return {"restart_long": NA(reason), "restart_short": NA(reason)}
    return {"restart_long": one(peer_class, ws, 1200, opts.restarts),
            "restart_short": one(peer_class, ws, 200, opts.restarts)}
