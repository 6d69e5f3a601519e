"""Chaos scenarios of a hostile world around the services: garbage on the
control socket, racing clients, the state dir removed under the daemon,
hostile service output, and file descriptors run out."""
import json
import os
import random
import resource
import shutil
import socket
import threading
import time

import reins_harness as h
from chaos_round import PY, fixture_config, nothing_left, state_dir
from reins_harness import FIXTURE, alive, reins, rss_kib, show, supervisor_pid, toml_cmd, wait_for, write


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
