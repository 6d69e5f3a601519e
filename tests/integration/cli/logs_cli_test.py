#!/usr/bin/env python3
"""Service logs: the files reins writes (format, rotation, a big flood with
the supervisor's memory flat) and `reins logs` that reads them.

Usage: logs_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
Environment: REINS_FLOOD_MB (default 200): size of the big flood.
docs/cli.md (Logs), docs/benchmarks.md (log throughput), docs/reliability.md.
"""
import os
import re
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import (FIXTURE, check, main, read, ready_lines, reins, rss_kib, run_fg, show,
                           supervisor_pid, toml_cmd, toml_str, track, wait_for, write)

LINE_RX = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (out|err|reins|out\+|err\+) (.*)$")
FLOOD_MB = float(os.environ.get("REINS_FLOOD_MB", "200"))


def start(d, args=(), env=None):
    r = reins(["start", *args], d, timeout=120, env=env)
    check(r.returncode == 0, f"start {' '.join(args)}: {show(r)}")
    for port, pid in ready_lines(r.stderr).values():
        track(pid)
    sup = supervisor_pid(os.path.join(d, ".reins"))
    if sup:
        track(sup)
    return r


def logs_dir(d):
    return os.path.join(d, ".reins", "logs")


def stored(d, name):
    """The lines of logs/NAME.log as (timestamp, kind, text)."""
    out = []
    for line in (read(os.path.join(logs_dir(d), f"{name}.log"), "") or "").splitlines():
        m = LINE_RX.match(line)
        out.append(m.groups() if m else (None, None, line))
    return out


def same_line(shown, st):
    """`reins logs` prints a stored line as stored, or just its text."""
    ts, kind, text = st
    return shown == f"{ts} {kind} {text}" or shown == text


def test_log_file_format_and_logs_n(d):
    script = "for i in $(seq 1 30); do echo line-$i; done; echo err-line >&2; exec sleep 60"
    write(d, "reins.toml", f'''version = 1
[service.api]
command = {toml_str(script)}
ready = {{ log = "^err-line$" }}
''')
    start(d)
    lines = stored(d, "api")
    check(all(ts for ts, kind, text in lines), f"every stored line is `TIMESTAMP out|err|reins TEXT`: {lines[:5]}")
    check([t for ts, k, t in lines if k == "out"] == [f"line-{i}" for i in range(1, 31)],
          f"stdout lines, in order, as `out`: {lines}")
    check(("err", "err-line") in [(k, t) for ts, k, t in lines], "the stderr line as `err`")
    check(any(k == "reins" for ts, k, t in lines), "reins' own events as `reins`")
    stamps = [ts for ts, k, t in lines if ts]
    check(stamps == sorted(stamps), "timestamps in order")
    for n in (5, 1):
        r = reins(["logs", "api", "-n", str(n)], d, timeout=30)
        shown = r.stdout.splitlines()
        check(r.returncode == 0 and len(shown) == n, f"logs api -n {n}: exactly {n} lines: {show(r)}")
        check(all(same_line(a, b) for a, b in zip(shown, lines[-n:])), f"the last {n} stored lines: {shown} vs {lines[-n:]}")
    r = reins(["logs", "api"], d, timeout=30)
    check(r.returncode == 0 and len(r.stdout.splitlines()) == len(lines), f"logs api: all {len(lines)} (< 100) lines: {show(r)}")
    r = reins(["logs", "nope"], d, timeout=30)
    check(r.returncode == 1 and "nope" in r.stderr, f"logs of an unknown service: 1: {show(r)}")
    r = reins(["logs", "api", "-n", "x"], d, timeout=30)
    check(r.returncode == 3 and "-n" in r.stderr, f"logs -n x: 3: {show(r)}")
    # Without a supervisor: the files are read directly.
    r = reins(["stop"], d, timeout=30)
    check(r.returncode == 0, f"stop: {show(r)}")
    lines = stored(d, "api")
    r = reins(["logs", "api", "-n", "3"], d, timeout=30)
    shown = r.stdout.splitlines()
    check(r.returncode == 0 and len(shown) == 3 and all(same_line(a, b) for a, b in zip(shown, lines[-3:])),
          f"logs -n 3 with no supervisor: the last 3 stored lines: {show(r)} vs {lines[-3:]}")


def test_logs_merged(d):
    # a1 and b1 print alternately, 100 ms apart, then idle.
    a = "for i in 1 2 3 4; do echo a-$i; sleep 0.2; done; echo a-done; exec sleep 60"
    b = "sleep 0.1; for i in 1 2 3 4; do echo b-$i; sleep 0.2; done; echo b-done; exec sleep 60"
    write(d, "reins.toml", f'''version = 1
[service.a1]
command = {toml_str(a)}
ready = {{ log = "a-done" }}
[service.b1]
command = {toml_str(b)}
ready = {{ log = "b-done" }}
''')
    start(d)
    merged = sorted([(st, "a1") for st in stored(d, "a1")] + [(st, "b1") for st in stored(d, "b1")],
                    key=lambda x: x[0][0] or "")
    r = reins(["logs", "-n", "4"], d, timeout=30)
    shown = r.stdout.splitlines()
    check(r.returncode == 0 and len(shown) == 4, f"logs -n 4 of two services: 4 lines: {show(r)}")
    check(all(l.startswith("a1 | ") or l.startswith("b1 | ") for l in shown), f"each prefixed `NAME | `: {shown}")
    want = merged[-4:]
    check(all(l.startswith(f"{name} | ") and same_line(l[len(name) + 3:], st) for l, (st, name) in zip(shown, want)),
          f"the last 4 lines of both files merged by time: {shown} vs {want}")
    r = reins(["logs", "a1", "b1", "-n", "100"], d, timeout=30)
    shown = r.stdout.splitlines()
    texts = [l.split(" | ", 1)[1] for l in shown if " | " in l]
    outs = [t for t in texts if re.search(r"\b[ab]-[1-4]$", t)]
    check(r.returncode == 0 and [t[-3:] for t in outs] == ["a-1", "b-1", "a-2", "b-2", "a-3", "b-3", "a-4", "b-4"],
          f"merged in time order: {texts}")


def test_logs_follow_across_rotation(d):
    pad = "x" * 100
    script = f"i=0; while :; do i=$((i+1)); echo tick-$i-{pad}; sleep 0.01; done"
    write(d, "reins.toml", f'''version = 1
[service.tick]
command = {toml_str(script)}
logs = {{ max_size = "4KiB", keep = 1 }}
''')
    start(d)
    fg = run_fg(["logs", "tick", "-f", "-n", "1"], d)
    time.sleep(3)
    rotated = os.path.exists(os.path.join(logs_dir(d), "tick.log.1"))
    fg.signal(2)
    code = fg.wait(10)
    check(code is not None, "logs -f ends on SIGINT")
    ticks = [int(m.group(1)) for m in (re.search(r"tick-(\d+)-x", l) for l in fg.out) if m]
    check(rotated, "the log was rotated while following")
    check(len(ticks) > 60, f"logs -f kept printing for 3 s: {len(ticks)} lines; stderr {fg.stderr_text()!r}")
    check(ticks == list(range(ticks[0], ticks[0] + len(ticks))) if ticks else False,
          f"no line lost or repeated across rotations: {ticks[:5]}...{ticks[-5:]}")


def flood_lines(path):
    """(count, bytes, first, last, ok) of the `out flood stdout` lines of one file."""
    count = nbytes = 0
    first = last = None
    ok = True
    with open(path, "rb") as f:
        for line in f:
            i = line.find(b" out flood stdout ")
            if i < 0:
                continue
            text = line[i + 5:-1] if line.endswith(b"\n") else line[i + 5:]
            if len(text) < 24:  # the last line, cut short (in its counter, too)
                n = (last + 1) if last is not None else 0
            else:
                n = int(text[13:23])
            if last is not None and n != last + 1:
                ok = False
            if first is None:
                first = n
            last = n
            count += 1
            nbytes += len(text) + 1
    return count, nbytes, first, last, ok


def test_rotation_keeps_exactly_keep(d):
    write(d, "reins.toml", f'''version = 1
[service.api]
command = {toml_cmd([FIXTURE, "--no-listen", "--flood", "1MiB", "--print-ready", "FLOOD-DONE"])}
ready = {{ log = "^FLOOD-DONE$" }}
logs = {{ max_size = "64KiB", keep = 2 }}
''')
    start(d)
    files = sorted(f for f in os.listdir(logs_dir(d)) if f.startswith("api.log"))
    check(files == ["api.log", "api.log.1", "api.log.2"], f"exactly keep=2 old files: {files}")
    sizes = {f: os.path.getsize(os.path.join(logs_dir(d), f)) for f in files}
    check(all(s <= 64 * 1024 for s in sizes.values()), f"no file over max_size: {sizes}")
    check(all(sizes.get(f, 0) > 60 * 1024 for f in ("api.log.1", "api.log.2")), f"rotated files are full: {sizes}")
    # The retained lines are the newest ones, contiguous across the files.
    total_lines = (1 << 20) // 100 + 1
    prev = None
    for f in ("api.log.2", "api.log.1", "api.log"):
        count, nbytes, first, last, ok = flood_lines(os.path.join(logs_dir(d), f))
        check(ok and count > 0, f"{f}: contiguous flood lines ({count})")
        if prev is not None and first is not None:
            check(first == prev + 1, f"{f} continues {prev}: starts at {first}")
        prev = last if last is not None else prev
    check(prev == total_lines - 1, f"the last flood line ({total_lines - 1}) is in api.log: {prev}")
    check("FLOOD-DONE" in (read(os.path.join(logs_dir(d), "api.log"), "") or ""), "what followed the flood too")


def wchar(pid):
    """Bytes the process has written so far (/proc/PID/io), or None."""
    for line in (read(f"/proc/{pid}/io", "") or "").splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return None


def test_big_flood_whole_and_rss_flat(d):
    size = int(FLOOD_MB * 1024 * 1024)
    stored_bytes = size * 1.35  # + timestamp and stream per 100-byte line
    keep = int(stored_bytes // (64 * 1024 * 1024)) + 2
    write(d, "reins.toml", f'''version = 1
[service.idle]
command = {toml_cmd([FIXTURE, "--no-listen"])}
[service.flood]
command = {toml_cmd([FIXTURE, "--no-listen", "--flood", str(size), "--print-ready", "FLOOD-DONE"])}
restart = "no"
logs = {{ max_size = "64MiB", keep = {keep} }}
''')
    # Under AddressSanitizer its quarantine keeps up to 256 MiB of freed memory
    # resident: keep it small, so that RSS measures what reins holds (no effect
    # on other builds).
    asan = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS", ""),
                                  "quarantine_size_mb=1:thread_local_quarantine_size_kb=64"]))
    start(d, ["idle"], env={"ASAN_OPTIONS": asan})  # the daemon keeps this environment
    sup = supervisor_pid(os.path.join(d, ".reins"))
    if not check(sup, "supervisor pid"):
        return
    baseline = max(rss_kib(sup) or 0 for _ in range(3))
    t0 = time.monotonic()
    r = start(d, ["flood"])
    pid = ready_lines(r.stderr).get("flood", (0, 0))[1]
    if not check(pid, f"flood started: {show(r)}"):
        return
    # Until the fixture has written it all (its own write counter), sampling reins' RSS.
    samples = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        v = rss_kib(sup)
        if v:
            samples.append(v)
        w = wchar(pid)
        if w is None or w >= size + len("FLOOD-DONE\n"):
            break
        time.sleep(0.01)
    took = time.monotonic() - t0
    check(wchar(pid) is not None and wchar(pid) >= size, f"the fixture wrote the whole flood within 240 s: {wchar(pid)}")
    # Stopping it reads the pipe to its end.
    r = reins(["stop", "flood"], d, timeout=60)
    check(r.returncode == 0, f"stop flood: {show(r)}")
    peak = max(samples or [0])
    print(f"  flood {FLOOD_MB:g} MiB in {took:.1f}s ({FLOOD_MB / took:.0f} MiB/s); supervisor RSS "
          f"{baseline} KiB -> peak {peak} KiB over {len(samples)} samples", flush=True)
    check(len(samples) >= 3, f"RSS sampled during the flood: {len(samples)} samples")
    check(peak - baseline < 20 * 1024, f"supervisor RSS flat: baseline {baseline} KiB, peak {peak} KiB")
    names = sorted(f for f in os.listdir(logs_dir(d)) if f.startswith("flood.log"))
    order = sorted(names, key=lambda f: -int(f.rsplit(".", 1)[1]) if f[-1].isdigit() else 0)
    check(f"flood.log.{keep}" not in names, f"nothing rotated away (keep={keep}): {names}")
    total = nbytes_all = 0
    prev = None
    for f in order:
        count, nbytes, first, last, ok = flood_lines(os.path.join(logs_dir(d), f))
        check(ok, f"{f}: contiguous flood lines")
        if prev is not None and first is not None:
            check(first == prev + 1, f"{f} continues line {prev}: starts at {first}")
        prev = last if last is not None else prev
        total += count
        nbytes_all += nbytes
    want_lines = (size + 99) // 100
    check(total == want_lines and nbytes_all == size,
          f"the whole flood arrived: {total}/{want_lines} lines, {nbytes_all}/{size} bytes")
    check("out FLOOD-DONE" in (read(os.path.join(logs_dir(d), "flood.log"), "") or ""), "and the line after it")


def test_output_reaches_the_file_promptly(d):
    # A quiet service's last lines must not wait in reins' buffer for the
    # next event: `reins logs` and `logs -f` read the files.
    write(d, "reins.toml", f'''version = 1
[service.quiet]
command = "sleep 0.3; echo late-line; echo late-err >&2; exec sleep 60"
''')
    start(d)
    path = os.path.join(logs_dir(d), "quiet.log")
    got = wait_for(lambda: "out late-line" in (read(path, "") or "") and "err late-err" in (read(path, "") or ""), 5)
    check(got, f"a line printed after ready is in the log file within 5 s: {read(path)!r}")
    # The same in the foreground.
    os.makedirs(os.path.join(d, "fg"))
    fg = run_fg(["run", "--name", "fgq", "--", "sh", "-c", "echo fg-line; exec sleep 60"], os.path.join(d, "fg"))
    path = os.path.join(d, "fg", ".reins", "logs", "fgq.log")
    check(fg.wait_line(r"^fgq \| fg-line$", 10, stream="out"), f"run prints the line: {fg.stdout_text()!r}")
    got = wait_for(lambda: "out fg-line" in (read(path, "") or ""), 5)
    check(got, f"run: the line is in the log file within 5 s: {read(path)!r}")
    fg.signal(2)
    check(fg.wait(20) == 0, "run ends on SIGINT")


if __name__ == "__main__":
    main(globals())
