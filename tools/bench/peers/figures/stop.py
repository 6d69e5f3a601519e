"""Stop of a service that ignores SIGTERM, with a grandchild holding a port.

The child ignores SIGTERM, SIGINT and SIGHUP, listens on a port and has a
grandchild (ignoring them too) listening on another: a plain fork, a double
fork (re-parented, same session and group) or a setsid'd one. Stop timeout
1 s. Measured: the wall time of the supervisor's stop command, and which of
child and grandchild are still alive 0.5 s after it returned (they are then
killed by pid).
"""

import time

import procs
import workspace
from figures.common import Value, median, ms, session

NAME = "stop"
MODES = ("plain", "double", "setsid")
ROWS = [
    ("stop_wall", "stop, child ignores SIGTERM, 1 s timeout: stop command's wall time (median of {stops})", "ms"),
    ("stop_left", "… grandchildren left 0.5 s after: plain fork / double fork / setsid", ""),
]


def one_mode(peer_class, ws, mode, iterations):
    """[(seconds, child left, grandchild left)] per iteration."""
    port, gc_port = workspace.free_port(), workspace.free_port()
    out = []
    with session(peer_class, ws, f"stop-{mode}") as peer:
        log = ws.child_log(peer.dir, "st")
        peer.define("st", [ws.child, "--ignore-term", "--listen", str(port), "--grandchild", str(gc_port),
                           "--gc-mode", mode, "--log", log])
        peer.boot()
        for i in range(iterations):
            if i:
                command = peer.start("st")
                if command:
                    command.wait(60)
            up = procs.wait_until(lambda: len(workspace.grandchildren(log)) > i and workspace.port_answers(port)
                                  and workspace.port_answers(gc_port), 30)
            if not up:
                raise RuntimeError(f"child or grandchild ({mode}) did not come up")
            child, grandchild = workspace.events(log, "exec")[-1][1], workspace.grandchildren(log)[-1]
            starts = {pid: procs.start_time(pid) for pid in (child, grandchild)}
            t0 = time.perf_counter()
            peer.stop("st")
            took = time.perf_counter() - t0
            time.sleep(0.5)
            out.append((took, procs.alive(child), procs.alive(grandchild)))
            for pid, start in starts.items():
                procs.kill(pid, start)
            procs.wait_until(lambda: not any(procs.alive(p) for p in starts), 5)
            procs.wait_until(lambda: not workspace.port_answers(port) and not workspace.port_answers(gc_port), 5)
    return out


def measure(peer_class, ws, opts):
    walls, left, children_left, total = [], [], 0, 0
    for mode in MODES:
        runs = one_mode(peer_class, ws, mode, opts.stops)
        walls += [ms(took) for took, _, _ in runs]
        left.append(sum(gc for _, _, gc in runs))
        children_left += sum(c for _, c, _ in runs)
        total = len(runs)
    text = " / ".join(str(n) for n in left) + f" of {total}"
    if children_left:
        text += f" (and the child itself {children_left}×)"
    return {"stop_wall": Value(median(walls), detail=f"stop wall time {min(walls):.0f}–{max(walls):.0f} ms"),
            "stop_left": Value(sum(left), text=text)}
