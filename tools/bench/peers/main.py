"""reins beside its peers, in one run on this machine: see tools/bench/README.md.

    python3 tools/bench/peers [--peers reins,s6,...] [--figures idle,...] [--quick]
                              [--reins PATH] [--list]

Prints a Markdown table on stdout (progress on stderr). Missing peers are
skipped with the reason. Works in /tmp/reins-peers-<pid>/ and removes it;
every process it started, or that a service started, is killed by pid at
the end, also after an error or Ctrl-C.
"""

import argparse
import os
import signal
import subprocess
import sys
import time

import adapters
import adapters.reins
import figures
import report
from figures import status
import workspace
from workspace import Workspace, log

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))


def names(text, known, what):
    if text in ("all", None):
        return list(known)
    if text == "none":
        return []
    chosen = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in known]
    if unknown:
        sys.exit(f"peers: unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return [n for n in known if n in chosen]  # the table's order


def options(argv):
    p = argparse.ArgumentParser(prog="tools/bench/peers", description="reins beside s6, runit, supervisord, "
                                "tini and PM2: one Markdown table of the same figures.")
    p.add_argument("--peers", help="comma-separated (default: all installed): "
                   + ",".join(adapters.BY_NAME))
    p.add_argument("--figures", help="comma-separated, or none (default: all): " + ",".join(figures.BY_NAME))
    p.add_argument("--quick", action="store_true", help="fewer iterations, shorter windows (a smoke run)")
    p.add_argument("--reins", default=os.path.join(ROOT, "build-release", "src", "cli", "reins"),
                   help="the reins binary (default: build-release/src/cli/reins)")
    p.add_argument("--list", action="store_true", help="list the peers (installed or not) and figures, then exit")
    p.add_argument("--check", action="store_true",
                   help="--list, then build and run the test child once (no supervisor, no timing): a smoke test")
    o = p.parse_args(argv)
    o.peer_names = names(o.peers, adapters.BY_NAME, "peer")
    o.figure_names = names(o.figures, figures.BY_NAME, "figure")
    quick = o.quick
    o.restarts, o.runs, o.starts, o.stops = (4, 5, 3, 1) if quick else (20, 20, 10, 3)
    # settle: reins gives back its start-up pages 2 s after its last request
    # (the adapter's own status query included), so 5 s measures it idle.
    o.idle, o.crash, o.settle = (5, 5, 1) if quick else (30, 20, 5)
    return o


def machine():
    load = os.getloadavg()
    return (f"{os.cpu_count()} CPUs, kernel {os.uname().release}, "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def list_all():
    for cls in adapters.ALL:
        why = cls.missing()
        print(f"peer {cls.name}: " + (f"skipped: {why}" if why else cls.version()))
    for f in figures.ALL:
        print(f"figure {f.NAME}: " + (f.__doc__ or "").strip().splitlines()[0])


def check_child():
    """The child compiles, runs, and logs its exec and exit."""
    ws = Workspace()
    try:
        ws.build_child()
        log_path = ws.child_log(ws.root, "check")
        rc = subprocess.run([ws.child, "--exit-after", "0", "--code", "3", "--log", log_path], timeout=30).returncode
        execs, exits = workspace.events(log_path, "exec"), workspace.events(log_path, "exit")
        if rc != 3 or len(execs) != 1 or len(exits) != 1 or exits[0][0] < execs[0][0]:
            print(f"child check failed: exit {rc}, log {workspace.read_lines(log_path)}")
            return 1
        print("child: builds, runs, logs exec and exit")
        return 0
    finally:
        ws.remove()


def run(o, ws):
    peers = []
    for name in o.peer_names:
        cls = adapters.BY_NAME[name]
        why = cls.missing()
        if why:
            log(f"skipping {name}: {why}")
        else:
            peers.append(cls)
    ws.build_child()
    started, load_before = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), machine()
    results = {cls.name: {} for cls in peers}
    floor = status.floor(o.runs) if "status" in o.figure_names else None
    for fname in o.figure_names:
        figure = figures.BY_NAME[fname]
        for cls in peers:
            try:
                results[cls.name].update(figure.measure(cls, ws, o))
            except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as e:
                log(f"{cls.name}: {fname} failed: {e}")
                for key, _, _ in figure.ROWS:
                    results[cls.name][key] = str(e).replace("|", "/")
    rows = [row for f in o.figure_names for row in figures.BY_NAME[f].ROWS]
    labels = dict(idle=o.idle, crash=o.crash, restarts=o.restarts, runs=o.runs, starts=o.starts,
                  stops=o.stops * len(figures.stop.MODES))
    cols = [cls.name for cls in peers]
    print(f"Run {started}{' (--quick)' if o.quick else ''}: {load_before} at the start, "
          f"{machine().split('load average ')[1]} at the end.\n")
    print(report.table(rows, cols, results, labels))
    print()
    print("Versions: " + "; ".join(cls.version() for cls in peers) + ".")
    if floor is not None:
        print(f"Floor of the status figure: `true` started the same way, {floor:.2f} ms.")
    extra = report.notes(cols, results)
    if extra:
        print("\n" + extra)
    print("\nHow each supervisor was set up:\n")
    for cls in peers:
        print(f"- {cls.name}: {cls.note()}")
    if any(isinstance(v, str) for r in results.values() for v in r.values()):
        return 1
    return 0


def interrupt(*_):
    raise KeyboardInterrupt


def main(argv):
    o = options(argv)
    adapters.reins.BINARY = os.path.abspath(o.reins)
    if o.list or o.check:
        list_all()
        return check_child() if o.check else 0
    # SIGTERM and SIGHUP end the run like Ctrl-C: through the cleanup below
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)
    ws = Workspace()
    try:
        return run(o, ws)
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        return 130
    finally:
        ws.kill_services()
        ws.kill_remembered()
        ws.remove()
