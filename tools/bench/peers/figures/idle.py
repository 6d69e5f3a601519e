"""Memory and CPU of a supervisor's own processes while its services idle.

With 1 and with 100 idle services (the child with no option: it sleeps
until killed), once every service has started and a settling pause has
passed (5 s: reins gives back its start-up pages 2 s after its last
request): RSS and PSS (smaps_rollup) summed over the supervisor's own
processes (its process tree minus the services), and per extra service
(PSS100 − PSS1) / 99. Then, with 100 services, the CPU ticks
(utime + stime) those processes use over the idle window.
"""

import time

import procs
import workspace
from figures.common import NA, Value, session

NAME = "idle"
ROWS = [
    ("pss1", "PSS, 1 idle service", "KiB"),
    ("rss1", "RSS, 1 idle service", "KiB"),
    ("pss_extra", "PSS per extra idle service, (PSS₁₀₀ − PSS₁) / 99", "KiB"),
    ("rss_extra", "RSS per extra idle service", "KiB"),
    ("idle_cpu", "idle CPU, 100 services, over {idle}s", "ticks"),
]


def footprint(peer_class, ws, count, settle, idle):
    """(rss, pss, process names, ticks over `idle` seconds or None)."""
    with session(peer_class, ws, f"idle-{count}") as peer:
        log = ws.child_log(peer.dir, "idle")
        for i in range(count):
            peer.define(f"idle{i}", [ws.child, "--log", log])
        peer.boot()
        if not procs.wait_until(lambda: len(workspace.events(log, "exec")) >= count, 120):
            raise RuntimeError(f"only {len(workspace.events(log, 'exec'))} of {count} services started")
        time.sleep(settle)
        pids = peer.own_pids()
        rss, pss = procs.memory(pids)
        names = sorted(procs.stat(p)["comm"] for p in pids if procs.stat(p))
        ticks = None
        if idle:
            before = procs.cpu_snapshot(pids)
            time.sleep(idle)
            ticks = procs.cpu_ticks_between(before, procs.cpu_snapshot(peer.own_pids()))
        return rss, pss, names, ticks


def summarize(names):
    counts = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    return ", ".join(f"{n}" if c == 1 else f"{c}× {n}" for n, c in sorted(counts.items()))


def measure(peer_class, ws, opts):
    rss1, pss1, names1, _ = footprint(peer_class, ws, 1, opts.settle, 0)
    out = {"pss1": Value(pss1, detail=f"1 service: {summarize(names1)}"), "rss1": Value(rss1)}
    if not peer_class.multi:
        reason = "one service per process"
        out.update(pss_extra=NA(reason), rss_extra=NA(reason), idle_cpu=NA(reason))
        return out
    rss100, pss100, names100, ticks = footprint(peer_class, ws, 100, opts.settle, opts.idle)
    out["pss_extra"] = Value((pss100 - pss1) / 99, detail=f"100 services: {summarize(names100)}, "
                                                          f"PSS {pss100} KiB, RSS {rss100} KiB")
    out["rss_extra"] = Value((rss100 - rss1) / 99)
    out["idle_cpu"] = Value(ticks)
    return out
