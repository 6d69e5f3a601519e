#!/usr/bin/env python3
"""What an idle reins daemon costs in memory, mapping by mapping (docs/benchmarks.md).

    footprint_bench.py REINS [--services N] [--settle S]

Starts the real daemon (`reins start` in a temporary folder) with 1 idle
service (`sleep 3600`), then with N (default 101), waits S seconds (default
2) for it to settle and sums `/proc/PID/smaps` over the supervisor's own
processes: the daemon and its keeper (the process that stops the services
if the daemon is SIGKILLed), never the services. Prints

- PSS and RSS in total, and PSS per extra service;
- the per-mapping table for 1 service: PSS / RSS per file (the reins
  executable, each shared library) and per kind of anonymous memory
  ([heap], [stack], other anonymous), daemon and keeper summed.

PSS divides each shared page among the processes that map it: the daemon
and its keeper share their executable's pages (one clone of the other), and
a library every process on the machine maps (libc) counts for little.

Python 3 standard library only; everything in its own temporary folder,
every process it started stopped by pid.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time


def smaps(pid):
    """{mapping name: {"Pss": kB, "Rss": kB}} of one process."""
    out = {}
    name = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            first = line.split(None, 1)[0]
            if "-" in first and not first.endswith(":"):
                parts = line.split(None, 5)
                name = parts[5].strip() if len(parts) > 5 else "[anon]"
                out.setdefault(name, {"Pss": 0, "Rss": 0})
            elif first in ("Pss:", "Rss:"):
                out[name][first[:-1]] += int(line.split()[1])
    return out


def supervisor_pids(state_dir):
    """The daemon's pid and its keeper's (a child of the daemon named reins-keeper)."""
    with open(os.path.join(state_dir, "reins.pid")) as f:
        daemon = int(f.read().strip())
    pids = [daemon]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == daemon and cmd.startswith(b"reins-keeper"):
            pids.append(int(entry))
    return pids


def short(name, reins):
    if name == os.path.realpath(reins):
        return "reins (executable)"
    if name.startswith("/"):
        return os.path.basename(name)
    return name


def measure(reins, services, settle):
    work = tempfile.mkdtemp(prefix="reins-footprint-")
    conf = os.path.join(work, "reins.toml")
    with open(conf, "w") as f:
        f.write("version = 1\n\n")
        for i in range(services):
            f.write(f'[service.s{i}]\ncommand = ["sleep", "3600"]\nrestart.policy = "no"\n\n')
    env = dict(os.environ, REINS_STATE_DIR=os.path.join(work, "state"))
    try:
        subprocess.run([reins, "start", "-c", conf], env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)
        time.sleep(settle)
        pids = supervisor_pids(env["REINS_STATE_DIR"])
        total = {}
        for pid in pids:
            for name, v in smaps(pid).items():
                t = total.setdefault(short(name, reins), {"Pss": 0, "Rss": 0})
                t["Pss"] += v["Pss"]
                t["Rss"] += v["Rss"]
        return pids, total
    finally:
        subprocess.run([reins, "stop", "-c", conf], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reins")
    ap.add_argument("--services", type=int, default=101)
    ap.add_argument("--settle", type=float, default=2.0)
    a = ap.parse_args()
    reins = os.path.abspath(a.reins)

    pids1, one = measure(reins, 1, a.settle)
    _, many = measure(reins, a.services, a.settle)
    pss1 = sum(v["Pss"] for v in one.values())
    rss1 = sum(v["Rss"] for v in one.values())
    pssn = sum(v["Pss"] for v in many.values())
    load = open("/proc/loadavg").read().split()[0]
    print(f"reins {reins}; {os.cpu_count()} cores, load {load}; processes measured: "
          f"{len(pids1)} (daemon{' + keeper' if len(pids1) > 1 else ''})\n")
    print("| figure | kB |\n|---|---|")
    print(f"| PSS, 1 idle service | {pss1} |")
    print(f"| RSS, 1 idle service | {rss1} |")
    print(f"| PSS, {a.services} idle services | {pssn} |")
    print(f"| PSS per extra service | {(pssn - pss1) / (a.services - 1):.1f} |")
    print("\nWith 1 idle service, by mapping (daemon + keeper):\n")
    print("| mapping | PSS kB | RSS kB |\n|---|---|---|")
    for name, v in sorted(one.items(), key=lambda kv: -kv[1]["Pss"]):
        if v["Rss"] == 0:
            continue
        print(f"| {name} | {v['Pss']} | {v['Rss']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
