#!/usr/bin/env python3
"""Exhausted resources and stops that do not end, against the real binary.

Usage: exhaustion_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
- at the open-file limit (the daemon under RLIMIT_NOFILE 64), a start fails
  with a message naming the limit, and `status` and `stop` keep working;
- with every descriptor of the daemon taken, a client of the control socket
  gets an answer (503 naming the limit, or the answer it asked for), never a
  reset connection;
- a service whose processes keep forking replacements (each in a session of
  its own, ignoring SIGTERM) is stopped within its stop.timeout and a scan
  interval, nothing of it left;
- a descendant that cleared its environment and called setsid() is stopped
  with its service, and one that lost its parent before the stop is stopped
  when the daemon exits.
"""
import os
import resource
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import (alive, check, main, read, ready_lines, reins, show, start_ok, start_time, track, wait_for,
                           wait_gone, write)

LIMIT = 64


def limit_fds():
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


def sock_path(d):
    return os.path.join(d, ".reins", "reins.sock")


def start_limited(d, name, what):
    """`reins start --name NAME -- sleep 1000` with the daemon (started by
    the first such call) under RLIMIT_NOFILE 64."""
    r = reins(["start", "--name", name, "--", "sleep", "1000"], d, timeout=60, preexec=limit_fds)
    for _, pid in ready_lines(r.stderr).values():
        track(pid)
    return r


def daemon_limit(d):
    pid = int((read(os.path.join(d, ".reins", "reins.pid"), "0") or "0").strip() or 0)
    if pid:
        track(pid)
    for line in (read(f"/proc/{pid}/limits", "") or "").splitlines():
        if line.startswith("Max open files"):
            return pid, int(line.split()[3])
    return pid, None


def test_start_at_the_open_file_limit_names_it(d):
    r = start_limited(d, "s0", "first start")
    if not check(r.returncode == 0, f"first start: {show(r)}"):
        return
    pid, soft = daemon_limit(d)
    check(soft == LIMIT, f"the daemon runs with a soft limit of {LIMIT} (hard {LIMIT}): {soft}")
    failed = None
    started = ["s0"]
    for i in range(1, 40):
        r = start_limited(d, f"s{i}", f"start s{i}")
        if r.returncode != 0:
            failed = r
            break
        started.append(f"s{i}")
    if not check(failed is not None, f"some start fails under RLIMIT_NOFILE {LIMIT} ({len(started)} started)"):
        return
    check(f"RLIMIT_NOFILE {LIMIT}" in failed.stderr and "ulimit -n" in failed.stderr,
          f"the failing start names the limit and what to do: {show(failed)}")
    check(alive(pid), "the daemon is still up")
    # The failed service may be restarting (exit 1): what matters is the answer.
    st = reins(["status"], d, timeout=30)
    check(st.returncode in (0, 1, 3) and "s0 " in st.stdout and "RLIMIT_NOFILE" in st.stdout,
          f"status still answers, and shows why the start failed: {show(st)}")
    stop = reins(["stop"], d, timeout=60)
    check(stop.returncode == 0, f"stop still works: {show(stop)}")
    check(wait_gone(pid, 10), f"the daemon {pid} exited after the stop")


def test_api_answers_when_out_of_descriptors(d):
    r = start_limited(d, "s0", "start")
    if not check(r.returncode == 0, f"start: {show(r)}"):
        return
    pid, soft = daemon_limit(d)
    # More idle clients than the daemon has descriptors: it runs out, and
    # every client must still get an answer once it asks.
    req = b"GET /v1/status HTTP/1.1\r\nHost: reins\r\nConnection: close\r\n\r\n"
    conns = []
    for _ in range(LIMIT + 16):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(20)
        s.connect(sock_path(d))
        conns.append(s)
    time.sleep(1)  # the daemon accepts what it can (idle ones stay 5 s)
    # The CLI meanwhile: an answer, the 503 naming the limit at worst.
    st = reins(["status"], d, timeout=30)
    check(st.returncode == 0 or (f"RLIMIT_NOFILE {LIMIT}" in st.stderr and "503" in st.stderr),
          f"status under exhaustion: served, or refused naming the limit: {show(st)}")
    check("reset" not in st.stderr, f"status under exhaustion: no connection reset: {show(st)}")
    answers = {"200": 0, "503": 0}
    refused_with_limit = 0
    bad = []
    for i, s in enumerate(conns):
        try:
            s.sendall(req)
        except OSError:
            pass  # an answer sent before the request, and closed: read it
        data = b""
        error = None
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError as e:
            error = e
        s.close()
        status = data[9:12].decode(errors="replace")
        if status in answers:
            answers[status] += 1
            if status == "503" and f"RLIMIT_NOFILE {LIMIT}".encode() in data:
                refused_with_limit += 1
        else:
            bad.append(f"#{i}: {error!r} after {data[:120]!r}")
    check(not bad, f"no connection reset or closed unanswered: {bad[:5]} ({len(bad)} in all; {answers})")
    check(refused_with_limit >= 1, f"the daemon ran out, and a 503 named the limit: {answers}")
    check(alive(pid), "the daemon is still up")
    st = reins(["status"], d, timeout=30)
    check(st.returncode == 0 and "s0" in st.stdout, f"status answers once the clients are gone: {show(st)}")
    # Out of descriptors again: `stop` is answered too, and works once they are back.
    idle = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(LIMIT + 16)]
    for s in idle:
        s.connect(sock_path(d))
    time.sleep(0.5)
    stop = reins(["stop"], d, timeout=60)
    check(stop.returncode == 0 or (f"RLIMIT_NOFILE {LIMIT}" in stop.stderr and "503" in stop.stderr),
          f"stop under exhaustion: done, or refused naming the limit: {show(stop)}")
    for s in idle:
        s.close()
    if stop.returncode != 0:
        stop = reins(["stop"], d, timeout=60)
        check(stop.returncode == 0, f"stop once descriptors are back: {show(stop)}")
    check(wait_gone(pid, 10), f"the daemon {pid} exited after the stop")


REFORKER = r'''
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
record, chains, bystanders = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def chain():
    # Each process records itself, forks its replacement into a session of
    # its own and exits: only REINS_INSTANCE ties them to the service. The
    # sleep bounds the fork rate (a test must never fork-bomb the machine).
    while True:
        fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(fd, b"%d\n" % os.getpid())
        os.close(fd)
        time.sleep(0.05)
        if os.fork() != 0:
            os._exit(0)
        os.setsid()

# Bystanders that make every scan of the service slow: outside the group,
# carrying the tag and a large environment (reins reads each one's
# environment in every scan), deaf to SIGTERM (blocked, kept across exec).
# A stop that signals only what a finished scan found leaves a chain member
# all that time to fork a replacement it never sees.
pad = {f"PAD{i}": "x" * 120_000 for i in range(8)}
for _ in range(bystanders):
    if os.fork() == 0:
        os.setsid()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        os.execve("/bin/sleep", ["sleep", "1000"], dict(os.environ, **pad))
for _ in range(chains):
    if os.fork() == 0:
        os.setsid()
        chain()
print("armed", flush=True)
while True:
    time.sleep(1)
'''


# Chains at once: each member lives 50 ms, so one escapes a stop that signals
# what a scan found only when it forks while that scan runs; several chains
# and slow scans (the bystanders) make that likely in every such stop.
CHAINS = 8
BYSTANDERS = 16


def instance_of(pid):
    env = (read(f"/proc/{pid}/environ", "") or "").split("\0")
    for e in env:
        if e.startswith("REINS_INSTANCE="):
            return e
    return None


def carrying(entry):
    """Pids of live processes whose environment holds `entry`."""
    found = []
    for e in os.listdir("/proc"):
        if e.isdigit() and alive(int(e)):
            env = (read(f"/proc/{e}/environ", "") or "").split("\0")
            if entry in env:
                found.append(int(e))
    return found


def freeze_then_kill(record, tag):
    """Whatever reins left of a re-forking chain: SIGSTOP every live process
    (the recorded pids and those carrying `tag`, each checked for the tag)
    until a look finds none new, then SIGKILL them all, by pid."""
    if not tag:  # the test failed before it learned the tag: a recorded member carries it
        for p in {int(p) for p in (read(record, "") or "").split()}:
            found = instance_of(p) if alive(p) else None
            if found and found.startswith("REINS_INSTANCE=reforker."):
                tag = found
                break
    held = {}
    for _ in range(100):
        pids = {int(p) for p in (read(record, "") or "").split()} | set(carrying(tag) if tag else [])
        fresh = [p for p in pids if p not in held and alive(p) and tag and instance_of(p) == tag]
        for p in fresh:
            held[p] = start_time(p)
            try:
                os.kill(p, signal.SIGSTOP)
            except OSError:
                pass
        if not fresh:
            break
    for p, st in held.items():
        if start_time(p) == st:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
    return sorted(held)


def test_stop_holds_a_reforking_service_still(d):
    script = write(d, "reforker.py", REFORKER)
    record = os.path.join(d, "record")
    tag = None
    try:
        _, ready = start_ok(d, ["--name", "reforker", "--ready", "log:^armed$", "--stop-timeout", "1s", "--",
                                sys.executable, script, record, str(CHAINS), str(BYSTANDERS)], "start reforker")
        if not check("reforker" in ready, "reforker started"):
            return
        main_pid = ready["reforker"][1]
        tag = instance_of(main_pid)
        check(tag is not None, f"the service carries REINS_INSTANCE: pid {main_pid}")
        wait_for(lambda: (read(record, "") or "").count("\n") > 10, 10)
        t0 = time.monotonic()
        r = reins(["stop", "reforker"], d, timeout=60)
        took = time.monotonic() - t0
        print(f"reforker: the stop took {took:.2f}s", file=sys.stderr)
        check(r.returncode == 0, f"stop: exit 0: {show(r)}")
        # stop.timeout is 1 s; before the freeze a replacement outran SIGKILL
        # and the stop waited 5 s more for it.
        check(took < 4.0, f"the stop ends within its 1 s timeout and a scan interval (generous bound 4 s): {took:.2f}s")
        pids = {int(p) for p in (read(record, "") or "").split()}
        living = [p for p in pids if alive(p) and instance_of(p) == tag]
        check(not living, f"none of the {len(pids)} recorded pids lives on: {living}")
        left = carrying(tag) if tag else []
        check(not left, f"no process with {tag} is left: {left}")
        check(wait_gone(main_pid, 5), f"main pid {main_pid} gone")
    finally:
        leftovers = freeze_then_kill(record, tag)
        if leftovers:
            print(f"reforker: killed what the stop left: {leftovers}", file=sys.stderr)


def escaper(d, name, detached):
    """A service whose descendant clears its environment and calls setsid;
    with `detached` its parent exits at once, leaving it to reins."""
    pidfile = os.path.join(d, f"{name}.pid")
    inner = f'echo $$ > {pidfile}; exec sleep 1000'
    spawn = f"env -i setsid sh -c '{inner}' &"
    if detached:
        spawn = f"( {spawn} )"
    _, ready = start_ok(d, ["--name", name, "--stop-timeout", "2s", "--", "sh", "-c", f"{spawn}\nexec sleep 1000"],
                        f"start {name}")
    if not check(name in ready, f"{name} started"):
        return None
    track(ready[name][1])
    if not check(wait_for(lambda: (read(pidfile, "") or "").strip(), 10), f"{name}: its descendant wrote its pid"):
        return None
    pid = int(read(pidfile).strip())
    track(pid)
    check(instance_of(pid) is None and os.getsid(pid) == pid, f"{name}: pid {pid} has no REINS_INSTANCE, own session")
    return pid, start_time(pid)


def same_alive(ref):
    return alive(ref[0]) and start_time(ref[0]) == ref[1]


def test_stop_reaches_a_setsid_descendant_without_environment(d):
    keep = start_ok(d, ["--name", "keep", "--", "sleep", "1000"], "start keep")
    ref = escaper(d, "escaper", detached=False)
    if ref is None:
        return
    r = reins(["stop", "escaper"], d, timeout=60)
    check(r.returncode == 0, f"stop escaper: {show(r)}")
    check(wait_for(lambda: not same_alive(ref), 5), f"its setsid'd descendant {ref[0]} is gone after the stop")
    # One whose parent was gone before the stop cannot be told apart: it is
    # stopped when the daemon exits (docs/engine.md).
    ref2 = escaper(d, "orphaner", detached=True)
    if ref2 is None:
        return
    r = reins(["stop"], d, timeout=60)
    check(r.returncode == 0, f"stop: {show(r)}")
    check(wait_for(lambda: not same_alive(ref2), 10), f"the adopted orphan {ref2[0]} is gone when the daemon exits")
    del keep


if __name__ == "__main__":
    main(globals(), __doc__)
