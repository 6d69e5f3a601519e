#!/usr/bin/env python3
"""Supervisor SIGKILLed → last service process gone (docs/benchmarks.md).

    supervisor_death_bench.py REINS [--runs N]

For `reins run` and for the daemon behind `reins start`, N times (default
20): one service — a Python script that binds a loopback port and leaves a
setsid'd child, a double-forked setsid'd grandchild (both holding the
service's listening socket and a port of their own) and a child that clears
its environment but stays in the service's process group — then SIGKILL to
the supervisor, and the time from that kill until the last of the four
processes is dead (a zombie or gone from /proc; polled in a tight loop),
until all three ports can be bound again, and — the floor — until the
supervisor itself is dead (the kernel's kill takes its time too). Prints a Markdown table: median
and max of both, and how many runs left something alive after 5 s (those
processes are then killed by pid).

Then what the keeper costs while it waits: `/proc/PID/smaps_rollup` of
`reins run -- sleep 600` and of its keeper (PSS, private pages), and their
voluntary context switches over 2 s of idling (0: it blocks in read()).

Every run works in its own temporary folder (reins keeps its state in
./.reins). Python 3 standard library only.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SERVICE = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixture", "escaping_service.py")).read()

LINE_RX = re.compile(rb"\b(main|bare|setsid|double) (\d+) (\d+)\b")
GIVE_UP = 5.0  # seconds: a run whose processes live longer counts as "left behind"


def dead(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            s = f.read()
    except OSError:
        return True
    return s[s.rindex(b")") + 2:s.rindex(b")") + 3] in (b"Z", b"X")


def port_free(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def wait_lines(path_or_buf, want, timeout=30):
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        text = path_or_buf()
        found = {m.group(1).decode(): (int(m.group(2)), int(m.group(3))) for m in LINE_RX.finditer(text)}
        if len(found) >= want:
            return found
        time.sleep(0.01)
    return None


def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def measure(procs, sup, kill):
    """Kills supervisor `sup`; seconds until it is dead itself, until the last
    service pid is dead, until every port is free (None: not within GIVE_UP)."""
    pids = [pid for pid, _ in procs.values()]
    ports = [port for _, port in procs.values() if port]
    t0 = time.perf_counter()
    kill()
    t_sup = t_dead = t_free = None
    while time.perf_counter() - t0 < GIVE_UP and (t_sup is None or t_dead is None or t_free is None):
        if t_sup is None and dead(sup):
            t_sup = time.perf_counter() - t0
        if t_dead is None and all(dead(p) for p in pids):
            t_dead = time.perf_counter() - t0
        if t_free is None and all(port_free(p) for p in ports):
            t_free = time.perf_counter() - t0
    for p in pids:  # whatever is left, by pid
        if not dead(p):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
    return t_sup, t_dead, t_free


def run_once(reins, mode, folder):
    with open(os.path.join(folder, "svc.py"), "w") as f:
        f.write(SERVICE)
    env = dict(os.environ, NO_COLOR="1")
    env.pop("REINS_STATE_DIR", None)
    if mode == "run":
        out_path = os.path.join(folder, "out.txt")
        with open(out_path, "wb") as out:
            p = subprocess.Popen([reins, "run", "--", sys.executable, "svc.py"], cwd=folder, env=env,
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
        procs = wait_lines(lambda: read_bytes(out_path), 4)
        if not procs:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            return None
        res = measure(procs, p.pid, lambda: os.kill(p.pid, signal.SIGKILL))
        p.wait()
        return res
    r = subprocess.run([reins, "start", "--name", "svc", "--", sys.executable, "svc.py"], cwd=folder, env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    if r.returncode != 0:
        sys.stderr.write(r.stderr.decode(errors="replace"))
        return None
    sup = int(read_bytes(os.path.join(folder, ".reins", "reins.pid")).strip())
    procs = wait_lines(lambda: read_bytes(os.path.join(folder, ".reins", "logs", "svc.log")), 4)
    if not procs:
        os.kill(sup, signal.SIGKILL)
        return None
    return measure(procs, sup, lambda: os.kill(sup, signal.SIGKILL))


def rollup(pid):
    """{'Pss': kB, 'Private_Clean': kB, ...} from /proc/PID/smaps_rollup."""
    out = {}
    for line in read_bytes(f"/proc/{pid}/smaps_rollup").decode().splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            out[parts[0].rstrip(":")] = int(parts[1])
    return out


def switches(pid):
    total = 0
    for line in read_bytes(f"/proc/{pid}/status").decode().splitlines():
        if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
            total += int(line.split()[1])
    return total


def keeper_cost(reins):
    folder = tempfile.mkdtemp(prefix="reins-death-bench-")
    p = subprocess.Popen([reins, "run", "--", "sleep", "600"], cwd=folder, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        keeper = None
        until = time.monotonic() + 10
        while keeper is None and time.monotonic() < until:
            time.sleep(0.05)
            for e in os.listdir("/proc"):
                if e.isdigit() and read_bytes(f"/proc/{e}/comm").strip() == b"reins-keeper":
                    st = read_bytes(f"/proc/{e}/stat")
                    if st and int(st[st.rindex(b")") + 2:].split()[1]) == p.pid:
                        keeper = int(e)
        if keeper is None:
            print("no keeper process found")
            return
        time.sleep(0.5)
        before = (switches(p.pid), switches(keeper))
        time.sleep(2)
        after = (switches(p.pid), switches(keeper))
        sup, kee = rollup(p.pid), rollup(keeper)
        priv = lambda r: r.get("Private_Clean", 0) + r.get("Private_Dirty", 0)
        print()
        print("| idle, `reins run -- sleep 600` | PSS | private | context switches in 2 s |")
        print("|---|---:|---:|---:|")
        print(f"| reins | {sup.get('Pss', 0)} KiB | {priv(sup)} KiB | {after[0] - before[0]} |")
        print(f"| its keeper | {kee.get('Pss', 0)} KiB | {priv(kee)} KiB | {after[1] - before[1]} |")
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        shutil.rmtree(folder, ignore_errors=True)


def ms(v):
    return f"{v * 1000:.1f} ms"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reins", help="path to the reins executable")
    ap.add_argument("--runs", type=int, default=20, help="runs per supervisor kind (default 20)")
    args = ap.parse_args()
    reins = os.path.abspath(args.reins)
    print("load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print()
    print("| supervisor SIGKILLed | last service process dead: median (max) | ports free: median (max) "
          "| the supervisor itself dead: median (max) | left behind |")
    print("|---|---:|---:|---:|---:|")
    for mode, label in (("run", "`reins run`"), ("daemon", "daemon (`reins start`)")):
        sup_t, dead_t, free_t, left = [], [], [], 0
        for _ in range(args.runs):
            folder = tempfile.mkdtemp(prefix="reins-death-bench-")
            try:
                res = run_once(reins, mode, folder)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            if res is None or None in res:
                left += 1
                continue
            sup_t.append(res[0])
            dead_t.append(res[1])
            free_t.append(res[2])
        cell = lambda v: f"{ms(statistics.median(v))} ({ms(max(v))})" if v else "—"
        print(f"| {label}, {args.runs} runs | {cell(dead_t)} | {cell(free_t)} | {cell(sup_t)} | {left} |")
    keeper_cost(reins)


if __name__ == "__main__":
    main()
