#!/usr/bin/env python3
"""Supervisor CPU per crash-loop restart, and the time to stop many idle services (docs/benchmarks.md).

    restart_cpu_bench.py REINS [--seconds S] [--services N] [--skip-loop] [--skip-stop]

1. *CPU per restart*: `reins run` with one service, `exit 1` (a shell that
   exits at once), restarted always with a 1 ms backoff and no limit. After
   2 s of warm-up, utime+stime of the reins process (/proc/PID/stat fields
   14 and 15, every thread included) over S seconds (default 20), divided
   by the restarts counted in state.json over the same span. The keeper
   process (which reads two messages a restart) is reported apart. Children's
   CPU is not included; the fork is the parent's.
2. *stopping N idle services* (default 1000): `reins run` with N services
   `sleep infinity` (restart "no"); once state.json shows all running,
   SIGTERM to reins and the time until it has exited; then every service pid
   is checked dead (a survivor is reported and killed by pid).

Every run works in its own temporary folder (reins keeps its state in
./.reins). Python 3 standard library only.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_split(pid):
    """(utime, stime) of `pid` (all its threads), in clock ticks."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return int(fields[11]), int(fields[12])  # fields 14 and 15, counted from 1 before the ')'


def cpu_ticks(pid):
    """utime + stime of `pid` (all its threads), in clock ticks."""
    return sum(cpu_split(pid))


def keeper_of(pid):
    """The keeper process reins forked (its child named reins-keeper), or None."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                s = f.read()
        except OSError:
            continue
        name = s[s.index(b"(") + 1:s.rindex(b")")]
        ppid = int(s.rsplit(b")", 1)[1].split()[1])
        if ppid == pid and name == b"reins-keeper":
            return int(entry)
    return None


def read_state(work):
    try:
        with open(os.path.join(work, ".reins", "state.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def wait_for(cond, timeout):
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    return None


def restarts(work):
    st = read_state(work)
    if not st:
        return None
    return sum(s.get("restarts", 0) for s in st.get("services", []))


def bench_loop(reins, seconds):
    work = tempfile.mkdtemp(prefix="reins-restart-cpu-")
    try:
        with open(os.path.join(work, "reins.toml"), "w") as f:
            f.write('version = 1\n\n[service.crash]\ncommand = "exit 1"\n'
                    'restart = { policy = "always", max = 100000000, window = "1s", '
                    'backoff = { initial = "1ms", max = "1ms", multiplier = 1.0, jitter = 0.0 } }\n')
        p = subprocess.Popen([reins, "run"], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not wait_for(lambda: restarts(work), 10):
                sys.exit("restart_cpu_bench: no restart within 10 s")
            time.sleep(2)  # warm-up
            keeper = keeper_of(p.pid)
            r0, c0, k0, t0 = restarts(work), cpu_split(p.pid), cpu_ticks(keeper) if keeper else 0, time.monotonic()
            time.sleep(seconds)
            r1, c1, k1, t1 = restarts(work), cpu_split(p.pid), cpu_ticks(keeper) if keeper else 0, time.monotonic()
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(30)
        n = r1 - r0
        return {
            "restarts": n,
            "seconds": t1 - t0,
            "restarts_per_s": n / (t1 - t0),
            "cpu_ms_per_restart": (sum(c1) - sum(c0)) * 1000.0 / TICK / n,
            "user_ms_per_restart": (c1[0] - c0[0]) * 1000.0 / TICK / n,
            "system_ms_per_restart": (c1[1] - c0[1]) * 1000.0 / TICK / n,
            "keeper_cpu_ms_per_restart": (k1 - k0) * 1000.0 / TICK / n,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def pid_dead(pid, start_time):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return True
    return fields[0] in (b"Z", b"X") or int(fields[19]) != start_time


def bench_stop(reins, services, start_timeout):
    work = tempfile.mkdtemp(prefix="reins-stop-many-")
    try:
        with open(os.path.join(work, "reins.toml"), "w") as f:
            f.write("version = 1\n")
            for i in range(services):
                f.write(f'\n[service.s{i}]\ncommand = ["sleep", "infinity"]\nrestart = "no"\n')
        t_start = time.monotonic()
        p = subprocess.Popen([reins, "run"], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def all_running():
            st = read_state(work)
            if not st or len(st.get("services", [])) != services:
                return None
            if all(s.get("state") == "running" and s.get("pid") for s in st["services"]):
                return st
            return None

        st = wait_for(all_running, start_timeout)
        if not st:
            p.kill()
            p.wait()
            sys.exit(f"restart_cpu_bench: the services did not all run within {start_timeout} s")
        started = time.monotonic() - t_start
        time.sleep(1)
        pids = [(s["pid"], s["pid_start_time"]) for s in st["services"]]
        c0 = cpu_ticks(p.pid)
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        # CPU of the stop: sampled until the process is a zombie (its ticks are gone after wait()).
        c1 = c0
        while p.poll() is None:
            try:
                c1 = cpu_ticks(p.pid)
            except OSError:
                pass
            time.sleep(0.005)
        stopped = time.monotonic() - t0
        left = [pid for pid, st_time in pids if not pid_dead(pid, st_time)]
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        return {"services": services, "start_s": started, "stop_s": stopped,
                "stop_cpu_s": (c1 - c0) / TICK, "left_alive": len(left)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def load():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reins", help="path to the reins executable (a release build)")
    ap.add_argument("--seconds", type=float, default=20, help="span of the crash loop measured (default 20)")
    ap.add_argument("--services", type=int, default=1000, help="idle services to stop (default 1000)")
    ap.add_argument("--start-timeout", type=float, default=900,
                    help="seconds the services may take to all run (default 900)")
    ap.add_argument("--skip-loop", action="store_true", help="skip the crash-loop figure")
    ap.add_argument("--skip-stop", action="store_true", help="skip the stop figure")
    args = ap.parse_args()
    reins = os.path.abspath(args.reins)
    print(f"load average at start: {load()}")
    if not args.skip_loop:
        r = bench_loop(reins, args.seconds)
        print(f"crash loop: {r['restarts']} restarts in {r['seconds']:.1f} s ({r['restarts_per_s']:.0f}/s); "
              f"reins CPU {r['cpu_ms_per_restart']:.3f} ms a restart (user {r['user_ms_per_restart']:.3f}, "
              f"system {r['system_ms_per_restart']:.3f}); keeper {r['keeper_cpu_ms_per_restart']:.3f} ms")
    if not args.skip_stop:
        r = bench_stop(reins, args.services, args.start_timeout)
        print(f"{r['services']} idle services: all running after {r['start_s']:.2f} s; SIGTERM → reins exited in "
              f"{r['stop_s']:.2f} s (reins CPU {r['stop_cpu_s']:.2f} s); left alive: {r['left_alive']}")
    print(f"load average at end: {load()}")


if __name__ == "__main__":
    main()
