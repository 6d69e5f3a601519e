"""Warm start → port answers.

The supervisor runs, the service is declared but down. t0 is just before
the start command is issued; the bench then tries a TCP connect to the
service's loopback port every 0.5 ms, and the first that succeeds ends the
measure (the child listens first thing). The command's own return is
noted too. Then the service is stopped, its port is seen closed, and a
1.2 s pause follows (runsv sleeps a second after a run that lived less
than one, and holds its commands meanwhile).
"""

import socket
import time

import procs
import workspace
from figures.common import Value, median, ms, session

NAME = "ready"
ROWS = [("ready", "warm start → port answers (service down, start issued; median of {starts})", "ms")]


def connects(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def measure(peer_class, ws, opts):
    port = workspace.free_port()
    answered, returned = [], []
    with session(peer_class, ws, "ready") as peer:
        log = ws.child_log(peer.dir, "rd")
        peer.define("rd", [ws.child, "--listen", str(port), "--log", log], autostart=False)
        peer.boot()
        time.sleep(0.5)
        for _ in range(opts.starts):
            t0 = time.perf_counter()
            command = peer.start("rd")
            until = t0 + 30
            while not connects(port):
                if time.perf_counter() > until:
                    raise RuntimeError("the port never answered")
                time.sleep(0.0005)
            answered.append(ms(time.perf_counter() - t0))
            if command:
                command.wait(60)
                returned.append(ms(time.perf_counter() - t0))
            peer.stop("rd")
            if not procs.wait_until(lambda: not connects(port), 10):
                raise RuntimeError("the port stayed open after the stop")
            time.sleep(1.2)
    detail = f"start command returned after {median(returned):.1f} ms (median)" if returned else None
    return {"ready": Value(median(answered), detail=detail)}
