#!/usr/bin/env python3
"""Benchmarks of the reins command itself (docs/benchmarks.md).

    cli_bench.py REINS FIXTURE [--runs N] [--flood SIZE] [--flood-runs M]

1. `reins run -- true`: wall time of N runs (median, p90) against running
   `true` directly through the same subprocess call; the difference is what
   reins costs (target: <= 3 ms).
2. Log throughput: the fixture floods SIZE bytes of 100-byte lines through
   `reins run`; MB/s of child output that reached the log file (bytes
   counted in the file, from start to reins' exit), and reins' peak RSS
   (VmHWM sampled from /proc). Floors: the fixture writing to /dev/null and
   through a pipe into `cat > file`; and reins with a 1 MiB flood, to show
   that memory does not grow with the flood (target: >= 500 MB/s, RSS flat).

Every run works in its own temporary folder (reins keeps its state in
./.reins). Between flood runs the logs are deleted and the disk synced:
writeback of the previous run's dirty pages would otherwise slow the next.
Python 3 standard library only.
"""

import argparse
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

MB = 1_000_000


def parse_size(text):
    """'500M', '1GiB', '4096': bytes (k/M/G are powers of 1024, as the fixture reads them)."""
    m = re.fullmatch(r"(\d+)\s*(B|k|K|KiB|M|MiB|G|GiB)?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    mult = {None: 1, "B": 1, "k": 1 << 10, "K": 1 << 10, "KiB": 1 << 10,
            "M": 1 << 20, "MiB": 1 << 20, "G": 1 << 30, "GiB": 1 << 30}[m.group(2)]
    return int(m.group(1)) * mult


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


def load():
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


# ---- 1. reins run -- true --------------------------------------------------------------------

def time_run(argv, cwd):
    """Wall seconds of one run of argv (output discarded), its exit code and stderr."""
    t0 = time.perf_counter()
    p = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    return time.perf_counter() - t0, p.returncode, p.stderr.decode(errors="replace")


def bench_run_true(reins, runs):
    true = shutil.which("true") or "/bin/true"  # one absolute path for both: no PATH search in the figure
    reins_times, direct_times, failures, restarted = [], [], 0, 0
    with tempfile.TemporaryDirectory(prefix="reins-bench-") as work:
        for _ in range(3):  # warm the page cache and the state folder
            time_run([reins, "run", "--", true], work)
            time_run([true], work)
        # Interleaved, so that a load spike hits both series alike.
        for _ in range(runs):
            t, rc, err = time_run([reins, "run", "--", true], work)
            reins_times.append(t)
            failures += rc != 0
            restarted += "restarting" in err
            t, _, _ = time_run([true], work)
            direct_times.append(t)
    ms = 1000
    return {
        "runs": runs,
        "reins_median_ms": statistics.median(reins_times) * ms,
        "reins_p90_ms": percentile(reins_times, 90) * ms,
        "direct_median_ms": statistics.median(direct_times) * ms,
        "direct_p90_ms": percentile(direct_times, 90) * ms,
        "overhead_median_ms": (statistics.median(reins_times) - statistics.median(direct_times)) * ms,
        "failed_runs": failures,
        "restarted_runs": restarted,
    }


# ---- 2. log throughput -----------------------------------------------------------------------

class PeakRss:
    """Samples VmHWM of one pid every few ms until stopped; keeps the last value seen."""

    def __init__(self, pid, interval=0.005):
        self.pid, self.interval, self.kib = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        path = f"/proc/{self.pid}/status"
        while not self._stop.is_set():
            try:
                with open(path) as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            self.kib = max(self.kib, int(line.split()[1]))
                            break
            except (OSError, ValueError):
                pass
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.kib


def stdout_bytes_in_logs(folder, service):
    """Bytes of the service's stdout stored in its log files (rotated ones too).

    Each stored line is "<24-char stamp> out|out+ <text>": the child wrote
    the texts, and one newline per "out" line (pieces of a line longer than
    64 KiB are "out+" lines, after the first piece). stderr ("err") holds
    the fixture's own notice, not the flood.
    """
    total = 0
    names = [n for n in os.listdir(folder) if n == f"{service}.log" or n.startswith(f"{service}.log.")]
    for name in names:
        with open(os.path.join(folder, name), "rb") as f:
            for raw in f:
                tag_end = raw.find(b" ", 25)
                tag = raw[25:tag_end]
                if tag == b"out":
                    total += len(raw) - tag_end - 1  # text and its newline
                elif tag == b"out+":
                    total += len(raw) - tag_end - 2  # text only
    return total


def write_config(folder, fixture, flood_bytes, max_size):
    with open(os.path.join(folder, "reins.toml"), "w") as f:
        f.write(f"""version = 1
[service.flood]
command = ["{fixture}", "--no-listen", "--flood", "{flood_bytes}", "--crash-after", "1ms"]
restart.policy = "no"
logs.max_size = "{max_size}"
""")


def flood_once(reins, fixture, flood_bytes, where):
    """One `reins run` of the flood; (seconds, child bytes in the log, peak RSS KiB)."""
    with tempfile.TemporaryDirectory(prefix="reins-bench-flood-", dir=where) as work:
        # One file, no rotation: the figure is the write path, not rename(2).
        max_gib = ((flood_bytes * 2) >> 30) + 1
        write_config(work, fixture, flood_bytes, f"{max_gib}GiB")
        os.sync()
        t0 = time.perf_counter()
        p = subprocess.Popen([reins, "run"], cwd=work, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rss = PeakRss(p.pid)
        p.wait()
        seconds = time.perf_counter() - t0
        peak = rss.stop()
        stored = stdout_bytes_in_logs(os.path.join(work, ".reins", "logs"), "flood")
    os.sync()  # the deleted file's writeback, before the next run starts
    return seconds, stored, peak


def floor_once(fixture, flood_bytes, into_file, where):
    """The fixture alone: to /dev/null, or through a pipe into `cat > file`."""
    argv = [fixture, "--no-listen", "--flood", str(flood_bytes), "--crash-after", "1ms"]
    with tempfile.TemporaryDirectory(prefix="reins-bench-floor-", dir=where) as work:
        os.sync()
        t0 = time.perf_counter()
        if into_file:
            with open(os.path.join(work, "out.log"), "wb") as out:
                src = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                cat = subprocess.Popen(["cat"], stdin=src.stdout, stdout=out)
                src.stdout.close()
                src.wait()
                cat.wait()
        else:
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - t0
    os.sync()
    return seconds


def bench_flood(reins, fixture, flood_bytes, runs, where):
    results = [flood_once(reins, fixture, flood_bytes, where) for _ in range(runs)]
    small = [flood_once(reins, fixture, 1 << 20, where) for _ in range(3)]
    to_null = [floor_once(fixture, flood_bytes, False, where) for _ in range(runs)]
    to_file = [floor_once(fixture, flood_bytes, True, where) for _ in range(runs)]
    rates = [stored / s / MB for s, stored, _ in results]
    return {
        "flood_bytes": flood_bytes,
        "runs": runs,
        "seconds": [round(s, 3) for s, _, _ in results],
        "mb_per_s_median": statistics.median(rates),
        "mb_per_s_min": min(rates),
        "mb_per_s_max": max(rates),
        "complete": all(stored == flood_bytes for _, stored, _ in results),
        "stored_bytes": [stored for _, stored, _ in results],
        "peak_rss_kib": [peak for _, _, peak in results],
        "peak_rss_kib_1mib_flood": [peak for _, _, peak in small],
        "floor_dev_null_mb_per_s": statistics.median(flood_bytes / s / MB for s in to_null),
        "floor_pipe_cat_file_mb_per_s": statistics.median(flood_bytes / s / MB for s in to_file),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reins", help="path to the reins executable (a release build)")
    ap.add_argument("fixture", help="path to reins-fixture")
    ap.add_argument("--runs", type=int, default=50, help="runs of `reins run -- true` (default 50)")
    ap.add_argument("--flood", type=parse_size, default=parse_size("500M"),
                    help="bytes of child output per flood run (default 500M = 500 MiB)")
    ap.add_argument("--flood-runs", type=int, default=3, help="flood runs (default 3)")
    ap.add_argument("--dir", default=tempfile.gettempdir(),
                    help="where the flood's logs go (a real disk, not tmpfs; default: the temp folder)")
    ap.add_argument("--skip-run", action="store_true", help="skip the `reins run -- true` figure")
    ap.add_argument("--skip-flood", action="store_true", help="skip the log throughput figure")
    args = ap.parse_args()
    reins, fixture = os.path.abspath(args.reins), os.path.abspath(args.fixture)
    for path in (reins, fixture):
        if not os.access(path, os.X_OK):
            sys.exit(f"cli_bench: {path} is not an executable")

    print(f"cli_bench: {os.cpu_count()} cores, {load()}; logs under {args.dir}")
    failed = False
    if not args.skip_run:
        r = bench_run_true(reins, args.runs)
        print(f"reins run -- true ({r['runs']} runs): median {r['reins_median_ms']:.2f} ms, "
              f"p90 {r['reins_p90_ms']:.2f} ms")
        print(f"true directly:                  median {r['direct_median_ms']:.2f} ms, "
              f"p90 {r['direct_p90_ms']:.2f} ms")
        print(f"  reins costs {r['overhead_median_ms']:.2f} ms over running true (target <= 3 ms)")
        if r["restarted_runs"]:
            print(f"  {r['restarted_runs']} runs restarted `true` (its exit raced its readiness)")
        if r["failed_runs"]:
            print(f"  {r['failed_runs']} runs exited non-zero")
            failed = True
    if not args.skip_flood:
        f = bench_flood(reins, fixture, args.flood, args.flood_runs, args.dir)
        print(f"log throughput, {f['flood_bytes'] / MB:.0f} MB of 100-byte lines through `reins run`, "
              f"{f['runs']} runs ({', '.join(f'{s} s' for s in f['seconds'])}):")
        print(f"  {f['mb_per_s_median']:.0f} MB/s median (min {f['mb_per_s_min']:.0f}, "
              f"max {f['mb_per_s_max']:.0f}) reaching the log file (target >= 500 MB/s)")
        print(f"  reins peak RSS (VmHWM): {', '.join(f'{k} KiB' for k in f['peak_rss_kib'])}; "
              f"with a 1 MiB flood: {', '.join(f'{k} KiB' for k in f['peak_rss_kib_1mib_flood'])}")
        print(f"  floor, fixture alone: {f['floor_dev_null_mb_per_s']:.0f} MB/s to /dev/null, "
              f"{f['floor_pipe_cat_file_mb_per_s']:.0f} MB/s through a pipe into `cat > file`")
        if not f["complete"]:
            print(f"  INCOMPLETE: the logs hold {f['stored_bytes']} bytes of child output, "
                  f"{f['flood_bytes']} were written")
            failed = True
    print(f"cli_bench: done, {load()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
