#!/usr/bin/env python3
"""The chaos suite: faults production will bring, repeated with random timing.

Usage: chaos.py PATH/TO/reins PATH/TO/reins-fixture [--rounds N] [--seed S] [SCENARIO...]

Each scenario runs N rounds, each in a fresh temporary directory, with its
fault at a random instant. A round fails when reins gives a wrong answer,
hangs, crashes, or leaves a process of the round behind after its own
`reins stop`. At the end a table: scenario, rounds, failures, what was left
behind. Exit 1 if any round of a scenario that is expected to hold failed.
The same seed gives the same instants (printed, to replay a failure).

Every process a round starts is stopped afterwards by pid (never by name),
through the integration harness's cleanup.
"""
import json
import os
import random
import resource
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "cli"))
import reins_harness as h  # noqa: E402  (reads REINS and FIXTURE from argv[1:3])
from reins_harness import (FIXTURE, alive, ours, port_free, reins, rss_kib, run_fg, show, supervisor_pid,  # noqa: E402
                           toml_cmd, wait_for, write)
import exhaustion_cli_test as exhaustion  # noqa: E402  (the re-forking service and its freeze-then-kill)

PY = sys.executable


class Round:
    """What one round found wrong."""

    def __init__(self):
        self.problems = []
        self.samples = []  # (daemon RSS KiB, seconds a `reins status` took)

    def expect(self, cond, what):
        if not cond:
            self.problems.append(what)
        return cond

    def sample(self, d):
        """The daemon's RSS and how long a `reins status` takes, after the fault."""
        sup = supervisor_pid(state_dir(d))
        if not sup or not alive(sup):
            return
        rss = rss_kib(sup)
        t0 = time.monotonic()
        reins(["status"], d, timeout=30)
        self.samples.append((rss, time.monotonic() - t0))


def state_dir(d):
    return os.path.join(d, ".reins")


def fixture_config(d, grandchild=True):
    """Two services: `web` (auto port, tcp-ready, a setsid'd grandchild holding
    a second port) and `worker` (no socket). Their pids are recorded."""
    web = [FIXTURE, "--port", "${PORT}", "--record", os.path.join(d, "record-web")]
    if grandchild:
        web += ["--grandchild", "--grandchild-mode", "setsid"]
    worker = [FIXTURE, "--no-listen", "--record", os.path.join(d, "record-worker")]
    write(d, "reins.toml", f'''version = 1
[service.web]
command = {toml_cmd(web)}
port = "auto"
ready = {{ tcp = true }}
stop = {{ timeout = "2s" }}

[service.worker]
command = {toml_cmd(worker)}
stop = {{ timeout = "2s" }}
''')


def recorded_ports(d):
    """Ports the web fixture and its grandchild listened on (from the record)."""
    ports = []
    for line in (h.read(os.path.join(d, "record-web"), "") or "").splitlines():
        for word in line.split():
            if word.startswith("port="):
                ports.append(int(word[5:]))
    return ports


def nothing_left(r, d, ports=()):
    """After reins' own stop: no process of the round, its ports free."""
    wait_for(lambda: not ours(d), 3)
    left = ours(d)
    r.expect(not left, f"left behind: {[(p, ' '.join(h.cmdline(p))[:80]) for p in left]}")
    for p in ports:
        r.expect(wait_for(lambda: port_free(p), 3), f"port {p} still bound")
    return left


# ---- scenarios -------------------------------------------------------------------

def sigkill_supervisor(r, d, sup, rng):
    """SIGKILL of supervisor `sup`: alone — its keeper process then kills
    every service process, so nothing may be left even before any `stop` —
    or, half the time, together with its keeper, so that the services
    survive for the next command's survivor handling. Returns the exit
    `reins stop` owes: 1 (nothing alive) or 0 (survivors stopped)."""
    if rng.random() < 0.5:
        h.kill_with_keeper(sup)
        wait_for(lambda: not alive(sup), 5)
        return 0
    os.kill(sup, signal.SIGKILL)
    wait_for(lambda: not alive(sup), 5)
    nothing_left(r, d, recorded_ports(d))
    return 1


def daemon_sigkill(d, rng, r):
    """SIGKILL of the daemon (with or without its keeper) at a random instant
    after its services are up; the next `status` reports it, the next `stop`
    leaves nothing."""
    fixture_config(d)
    res = reins(["start"], d, timeout=60)
    if not r.expect(res.returncode == 0, f"start: {show(res)}"):
        return []
    sup = supervisor_pid(state_dir(d))
    time.sleep(rng.uniform(0, 0.3))
    stop_code = sigkill_supervisor(r, d, sup, rng) if sup else 0
    res = reins(["status"], d, timeout=30)
    r.expect(res.returncode == 1, f"status after the supervisor died: exit 1: {show(res)}")
    res = reins(["stop"], d, timeout=60)
    r.expect(res.returncode == stop_code, f"stop after the supervisor died: exit {stop_code}: {show(res)}")
    return nothing_left(r, d, recorded_ports(d))


def daemon_sigkill_while_starting(d, rng, r):
    """SIGKILL of the daemon the moment a service's process appears (before
    or during its bookkeeping), or at a random instant of the start; the
    next `stop` must still find every survivor."""
    fixture_config(d)
    starter = run_fg(["start"], d)
    sup = None
    at_first_service = rng.random() < 0.7
    deadline = time.monotonic() + (5 if at_first_service else rng.uniform(0.02, 0.3))
    while time.monotonic() < deadline:
        sup = sup or supervisor_pid(state_dir(d))
        if at_first_service and sup and any(FIXTURE in " ".join(h.cmdline(p)) for p in ours(d)):
            break
        time.sleep(0.0005)
    sup = sup or supervisor_pid(state_dir(d))
    if sup and alive(sup):
        os.kill(sup, signal.SIGKILL)
        # Half the rounds ask at once: a dying daemon's socket still accepts
        # for an instant, then resets, and `stop` must see that it is gone.
        if rng.random() < 0.5:
            wait_for(lambda: not alive(sup), 5)
    starter.wait(30)
    res = reins(["stop"], d, timeout=60)
    r.expect(res.returncode in (0, 1), f"stop: exit 0 or 1: {show(res)}")
    return nothing_left(r, d, recorded_ports(d))


def run_sigkill(d, rng, r):
    """SIGKILL of a foreground `reins run` (with or without its keeper) after
    its services are up; `stop` then finds the survivors, if any."""
    fixture_config(d)
    fg = run_fg(["run"], d)
    if not r.expect(fg.wait_line(r"reins: web ready", 30), f"run: web ready: {fg.stderr_text()[-500:]}"):
        fg.wait(1)
        return []
    time.sleep(rng.uniform(0, 0.3))
    stop_code = sigkill_supervisor(r, d, fg.pid, rng)
    fg.wait(10)
    res = reins(["stop"], d, timeout=60)
    r.expect(res.returncode == stop_code, f"stop after the supervisor died: exit {stop_code}: {show(res)}")
    return nothing_left(r, d, recorded_ports(d))


def ctrl_c_during_flood(d, rng, r):
    """Ctrl-C of `reins run` at a random instant of a 20 MB output flood: it
    stops and exits 0, nothing left."""
    fg = run_fg(["run", "--name", "flood", "--", FIXTURE, "--no-listen", "--flood", "20M"], d)
    # From its "started" line on (before it, reins has not set up its signal
    # handling yet: a SIGINT then ends it as it would any program).
    r.expect(fg.wait_line(r"reins: flood started", 30), f"run: flood started: {fg.stderr_text()[-300:]}")
    time.sleep(rng.uniform(0, 0.5))
    fg.signal(signal.SIGINT)
    code = fg.wait(30)
    r.expect(code == 0, f"run after Ctrl-C: exit 0, got {code}: {fg.stderr_text()[-300:]}")
    return nothing_left(r, d)


def api_garbage(d, rng, r):
    """Random bytes, cut requests and abrupt disconnects on the control socket:
    the daemon keeps answering, its memory flat."""
    fixture_config(d, grandchild=False)
    res = reins(["start"], d, timeout=60)
    if not r.expect(res.returncode == 0, f"start: {show(res)}"):
        return []
    sup = supervisor_pid(state_dir(d))
    before = rss_kib(sup) if sup else None
    path = os.path.join(state_dir(d), "reins.sock")
    heads = [b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n", b"POST /v1/services/web/restart HTTP/1.1\r\n",
             b"GET /v1/events HTTP/1.1\r\n\r\n", b"PUT / HTTP/9.9\r\n\r\n", b"\r\n\r\n\r\n",
             b"POST /v1/start HTTP/1.1\r\nContent-Length: 5\r\n\r\n{\"ser", b"GET /" + b"a" * 70000]
    for _ in range(150):
        try:
            with h.unix_connect(path, timeout=5) as s:
                kind = rng.random()
                if kind < 0.4:
                    s.sendall(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 600))))
                elif kind < 0.8:
                    s.sendall(rng.choice(heads))
                if rng.random() < 0.5:
                    s.settimeout(0.05)
                    try:
                        s.recv(4096)
                    except OSError:
                        pass
        except OSError:
            pass
    t0 = time.monotonic()
    res = reins(["status"], d, timeout=30)
    took = time.monotonic() - t0
    r.expect(res.returncode == 0, f"status after the garbage: exit 0: {show(res)}")
    r.expect(took < 5, f"status answered in {took:.1f}s")
    r.expect(bool(sup) and alive(sup), "the daemon survived")
    after = rss_kib(sup) if sup else None
    if before and after:
        r.expect(after - before < 16 * 1024, f"daemon RSS {before} -> {after} KiB")
    r.sample(d)
    res = reins(["stop"], d, timeout=60)
    r.expect(res.returncode == 0, f"stop: {show(res)}")
    return nothing_left(r, d)


def racing_commands(d, rng, r):
    """start / stop / restart of the same and of different services from
    several clients at once: every command ends, the daemon stays up while
    it has services, and the final stop leaves nothing."""
    names = ["a", "b", "c"]
    cfg = "version = 1\n"
    for n in names:
        cfg += f'[service.{n}]\ncommand = {toml_cmd([FIXTURE, "--no-listen"])}\nstop = {{ timeout = "2s" }}\n'
    write(d, "reins.toml", cfg)
    res = reins(["start"], d, timeout=60)
    if not r.expect(res.returncode == 0, f"start: {show(res)}"):
        return []
    sup = supervisor_pid(state_dir(d))
    results = []

    def client(i):
        local = random.Random(rng.random())
        for _ in range(3):
            cmd = local.choice(["start", "stop", "restart", "status"])
            who = local.sample(names, local.randint(1, 2))
            res = reins([cmd, *who], d, timeout=60)
            results.append((cmd, who, res.returncode, res.stderr[-200:]))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for cmd, who, code, err in results:
        r.expect(code in (0, 1), f"{cmd} {who}: exit {code}: {err!r}")
    r.expect(bool(sup) and alive(sup), "the daemon is still up (it has services)")
    res = reins(["start"], d, timeout=60)
    r.expect(res.returncode == 0, f"start of all after the race: {show(res)}")
    r.sample(d)
    res = reins(["stop"], d, timeout=60)
    r.expect(res.returncode == 0, f"stop: {show(res)}")
    return nothing_left(r, d)


def state_dir_removed(d, rng, r):
    """`rm -rf .reins` (or a move) under a running daemon, once or twice at
    random instants: the daemon recreates it and keeps supervising; a
    `start` meanwhile never makes a second supervisor."""
    fixture_config(d, grandchild=False)
    res = reins(["start"], d, timeout=60)
    if not r.expect(res.returncode == 0, f"start: {show(res)}"):
        return []
    sd = state_dir(d)
    sup = supervisor_pid(sd)
    for i in range(rng.randint(1, 2)):
        time.sleep(rng.uniform(0, 0.3))
        if rng.random() < 0.5:
            shutil.rmtree(sd, ignore_errors=True)
        else:
            os.rename(sd, os.path.join(d, f"moved-{i}"))
    r.expect(wait_for(lambda: supervisor_pid(sd) == sup, 5), f"reins.pid names the same supervisor {sup} again")
    # An old copy moved away names a supervisor that lives on: nothing of
    # its services is a survivor there, and a stop there touches none of them.
    for moved in [m for m in os.listdir(d) if m.startswith("moved-")]:
        res = reins(["stop", "--state-dir", os.path.join(d, moved)], d, timeout=60)
        r.expect(res.returncode == 1 and "stopping" not in res.stderr, f"stop in the moved copy: {show(res)}")
    res = reins(["status"], d, timeout=30)
    r.expect(res.returncode == 0, f"the services still run: {show(res)}")
    res = reins(["start"], d, timeout=60)
    r.expect(res.returncode == 0, f"start after the removal: {show(res)}")
    r.expect(len(h.daemons_of(sd)) <= 1 and bool(sup) and alive(sup), f"one supervisor: {h.daemons_of(sd)}")
    res = reins(["status"], d, timeout=30)
    r.expect(res.returncode == 0, f"status: {show(res)}")
    r.sample(d)
    res = reins(["stop"], d, timeout=60)
    r.expect(res.returncode == 0, f"stop: {show(res)}")
    return nothing_left(r, d)


HOSTILE = r'''
import sys, time
out = sys.stdout.buffer
out.write(b"x" * 1_000_000)                     # a long line, no newline yet
out.write(b"\xff\xfe\x00 not utf-8 \xc3\x28\n")
out.write(b"ready\n")
out.flush()
time.sleep(600)
'''


def hostile_output(d, rng, r):
    """A long line, invalid UTF-8 and NUL bytes before a ready.log match:
    ready, valid JSON status, a prompt stop."""
    res = reins(["start", "--name", "hostile", "--ready", "log:^ready$", "--", PY, "-c", HOSTILE], d, timeout=60)
    if not r.expect(res.returncode == 0, f"start: {show(res)}"):
        return []
    res = reins(["status", "--json"], d, timeout=30)
    try:
        json.loads(res.stdout)
        r.expect(True, "")
    except ValueError:
        r.expect(False, f"status --json is JSON: {res.stdout[:200]!r}")
    r.sample(d)
    t0 = time.monotonic()
    res = reins(["stop"], d, timeout=60)
    r.expect(res.returncode == 0 and time.monotonic() - t0 < 10, f"stop: {show(res)}")
    return nothing_left(r, d)


def fd_exhaustion(d, rng, r):
    """The daemon under RLIMIT_NOFILE 64 (soft and hard) run out of
    descriptors by a random number of idle clients: `status` and a `start`
    are answered (served, or refused naming the limit), never reset; once
    the clients are gone `stop` leaves nothing."""
    limit = 64

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    res = reins(["start", "--name", "s0", "--", "sleep", "1000"], d, timeout=60, preexec=low_limit)
    if not r.expect(res.returncode == 0, f"start: {show(res)}"):
        return []
    sup = supervisor_pid(state_dir(d))
    path = os.path.join(state_dir(d), "reins.sock")
    idle = []
    try:
        for _ in range(rng.randint(limit // 2, limit + 16)):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            idle.append(s)
            s.connect(path)
        time.sleep(rng.uniform(0, 0.5))
        named = f"RLIMIT_NOFILE {limit}"
        for args in (["status"], ["start", "--name", "s1", "--", "sleep", "1000"]):
            res = reins(args, d, timeout=60)
            r.expect((res.returncode == 0 or named in res.stderr) and "reset" not in res.stderr,
                     f"{args[0]}: answered (done, or refused naming the limit), never reset: {show(res)}")
    finally:
        for s in idle:
            s.close()
    r.expect(bool(sup) and alive(sup), "the daemon survived")
    r.sample(d)
    res = reins(["stop"], d, timeout=60)
    r.expect(res.returncode == 0, f"stop once the clients are gone: {show(res)}")
    return nothing_left(r, d)


def refork_stop(d, rng, r):
    """A service whose processes keep forking replacements (rate-limited,
    each in a session of its own, deaf to SIGTERM) stopped at a random
    instant with stop.timeout 1s: done within 4 s, none of its pids alive."""
    script = write(d, "reforker.py", exhaustion.REFORKER)
    record = os.path.join(d, "record")
    tag = None
    try:
        res = reins(["start", "--name", "reforker", "--ready", "log:^armed$", "--stop-timeout", "1s", "--",
                     PY, script, record, "6", str(rng.randint(8, 16))], d, timeout=60)
        ready = h.ready_lines(res.stderr)
        if not r.expect(res.returncode == 0 and "reforker" in ready, f"start: {show(res)}"):
            return []
        tag = exhaustion.instance_of(ready["reforker"][1])
        time.sleep(rng.uniform(0.1, 0.8))
        r.sample(d)
        t0 = time.monotonic()
        res = reins(["stop"], d, timeout=60)
        took = time.monotonic() - t0
        r.expect(res.returncode == 0 and took < 4, f"stop: exit 0 within 4 s ({took:.1f}s): {show(res)}")
        pids = {int(p) for p in (h.read(record, "") or "").split()}
        living = [p for p in pids if alive(p) and exhaustion.instance_of(p) == tag]
        r.expect(not living, f"recorded pids alive after the stop: {living}")
        return nothing_left(r, d)
    finally:
        exhaustion.freeze_then_kill(record, tag)


# name, function, expected to hold (CI fails on a failure only where True)
SCENARIOS = [
    ("daemon-sigkill", daemon_sigkill, True),
    ("daemon-sigkill-while-starting", daemon_sigkill_while_starting, True),
    ("run-sigkill", run_sigkill, True),
    ("ctrl-c-during-flood", ctrl_c_during_flood, True),
    ("api-garbage", api_garbage, True),
    ("racing-commands", racing_commands, True),
    ("hostile-output", hostile_output, True),
    ("state-dir-removed", state_dir_removed, True),
    ("fd-exhaustion", fd_exhaustion, True),
    ("refork-stop", refork_stop, True),
]


def main():
    args = sys.argv[3:]
    rounds, seed, only = 3, None, []
    while args:
        a = args.pop(0)
        if a == "--rounds":
            rounds = int(args.pop(0))
        elif a == "--seed":
            seed = int(args.pop(0))
        else:
            only.append(a)
    if not h.REINS or not FIXTURE:
        print(__doc__, file=sys.stderr)
        return 2
    seed = seed if seed is not None else random.randrange(1 << 30)
    print(f"chaos: seed {seed}, {rounds} rounds a scenario", flush=True)
    rng = random.Random(seed)
    table = []
    failed_expected = False
    for name, fn, expected in SCENARIOS:
        if only and name not in only:
            continue
        failures, left_total, examples, samples = 0, 0, [], []
        t0 = time.monotonic()
        for i in range(rounds):
            d = tempfile.mkdtemp(prefix="reins-chaos-")
            h.running_test.update(dir=d, pids=set(), popens=[])
            r = Round()
            n_harness = len(h.failures)
            try:
                left = fn(d, rng, r) or []
                left_total += len(left)
            except Exception:
                r.problems.append(traceback.format_exc(limit=3))
            finally:
                try:
                    h.cleanup(d)
                except Exception:
                    pass
                shutil.rmtree(d, ignore_errors=True)
            r.problems += h.failures[n_harness:]
            samples += r.samples
            if r.problems:
                failures += 1
                examples.append(f"round {i + 1}: " + "; ".join(p.strip() for p in r.problems)[:400])
        took = time.monotonic() - t0
        rss = [kb for kb, _ in samples if kb]
        answers = sorted(t for _, t in samples)
        daemon = (f"{min(rss) / 1024:.1f}–{max(rss) / 1024:.1f} MiB" if rss else "—",
                  f"{answers[len(answers) // 2] * 1000:.0f} / {answers[-1] * 1000:.0f} ms" if answers else "—")
        table.append((name, rounds, failures, left_total, took, expected, daemon))
        print(f"{'ok  ' if not failures else 'FAIL'} {name}: {failures}/{rounds} failed, "
              f"{left_total} processes left, {took:.1f}s", flush=True)
        for e in examples[:3]:
            print(f"     {e}", flush=True)
        if failures and expected:
            failed_expected = True
    print()
    print("| scenario | rounds | failures | left behind | daemon RSS after the fault | `reins status` median / max | time | holds |")
    print("|---|---|---|---|---|---|---|---|")
    for name, n, f, left, took, expected, (rss, answer) in table:
        print(f"| {name} | {n} | {f} | {left} | {rss} | {answer} | {took:.0f}s | {'yes' if expected else 'not yet'} |")
    return 1 if failed_expected else 0


if __name__ == "__main__":
    sys.exit(main())
