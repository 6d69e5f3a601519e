#!/usr/bin/env python3
"""`reins start` / `status` / `stop` / `restart` and the background daemon
against the real binary.

Usage: daemon_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
SPEC §2 (exit codes, idempotence, after a killed supervisor), §5.7 (daemon,
state directory files and modes, one supervisor per directory, pids trusted
only with their start time), §8.
"""
import fcntl
import json
import os
import re
import signal
import socket
import stat
import subprocess
import time

from reins_harness import (FIXTURE, REINS, alive, check, daemons_of, env_for, http_get, main, port_free, read,
                           ready_lines, reins, service, show, start_time, state_json, status_json, supervisor_pid,
                           toml_cmd, track, wait_for, wait_gone, write)


def api_config(d, extra_args=(), extra_toml=""):
    """reins.toml with one fixture service `api` (auto port, http readiness)
    that records its starts in d/record-api."""
    cmd = [FIXTURE, "--port", "${PORT}", "--record", os.path.join(d, "record-api"), *extra_args]
    write(d, "reins.toml", f'''version = 1
[service.api]
command = {toml_cmd(cmd)}
port = "auto"
ready = {{ http = "/ready" }}
{extra_toml}''')


def starts_recorded(d, name="api"):
    return (read(os.path.join(d, f"record-{name}"), "") or "").count("start pid=")


def start_ok(d, args=(), what="start"):
    """`reins start ARGS` that must succeed: {name: (port, pid)} of its ready lines."""
    r = reins(["start", *args], d, timeout=60)
    check(r.returncode == 0, f"{what}: exit 0: {show(r)}")
    ready = ready_lines(r.stderr)
    for port, pid in ready.values():
        track(pid)
    sup = supervisor_pid(os.path.join(d, ".reins"))
    if sup:
        track(sup)
    return r, ready


# ---- exit codes -----------------------------------------------------------------

def test_exit_codes_without_supervisor(d):
    r = reins(["frobnicate"], d)
    check(r.returncode == 3 and "frobnicate" in r.stderr, f"unknown command: 3: {show(r)}")
    r = reins(["start", "--bogus"], d)
    check(r.returncode == 3 and "--bogus" in r.stderr, f"start with an unknown option: 3: {show(r)}")
    r = reins(["start", "--port", "not-a-port", "--name", "x", "--", "true"], d)
    check(r.returncode == 3 and "--port" in r.stderr, f"start with a bad --port: 3: {show(r)}")
    r = reins(["stop", "--", "true"], d)
    check(r.returncode == 3, f"stop with a command: 3: {show(r)}")
    r = reins(["start"], d)
    check(r.returncode == 3 and "reins.toml" in r.stderr, f"start without config: 3: {show(r)}")
    r = reins(["status"], d)
    check(r.returncode == 1, f"status with no supervisor: 1: {show(r)}")
    r = reins(["status", "--lsb"], d)
    check(r.returncode == 3, f"status --lsb with no supervisor: 3: {show(r)}")
    r = reins(["stop"], d)
    check(r.returncode == 1, f"stop with no supervisor: 1: {show(r)}")
    r = reins(["stop", "api"], d)
    check(r.returncode == 1 and "not running" in r.stderr, f"stop api with no supervisor: 1, not running: {show(r)}")
    check(all(l.startswith("reins:") for l in r.stderr.splitlines()), f"stderr lines prefixed: {r.stderr!r}")
    # An invalid config: 3, the error names file and key, nothing is started.
    write(d, "reins.toml", 'version = 1\n[service.api]\ncommand = "true"\nrestarts = 3\n')
    r = reins(["start"], d)
    check(r.returncode == 3 and "reins.toml:4:1" in r.stderr and "restarts" in r.stderr,
          f"start with an invalid config: 3: {show(r)}")
    check(not daemons_of(os.path.join(d, ".reins")), "no daemon after an invalid config")
    r = reins(["restart"], d)
    check(r.returncode == 3, f"restart with an invalid config: 3: {show(r)}")
    # Unknown service in a valid config.
    write(d, "reins.toml", 'version = 1\n[service.api]\ncommand = "sleep 30"\n')
    r = reins(["start", "nope"], d)
    check(r.returncode in (1, 3) and "nope" in r.stderr, f"start of an unknown service fails naming it: {show(r)}")
    check(wait_for(lambda: not daemons_of(os.path.join(d, ".reins")), 5), "no daemon left after it")


# ---- start / status / stop --------------------------------------------------------

def test_round_trip(d):
    api_config(d)
    sd = os.path.join(d, ".reins")
    r, ready = start_ok(d)
    if not check("api" in ready, f"ready line of api: {r.stderr!r}"):
        return
    port, pid = ready["api"]
    check(re.search(r"^reins: api ready on http://127\.0\.0\.1:\d+ \(pid \d+, [0-9.]+s\)$", r.stderr, re.M),
          f"the ready line's format: {r.stderr!r}")
    check(r.stdout == "", f"start prints nothing on stdout: {r.stdout!r}")
    check(alive(pid) and http_get(port, "/ready") == 200, "the service runs and answers")
    sup = supervisor_pid(sd)
    check(sup and alive(sup) and sup != pid, f"reins.pid names a live supervisor: {sup}")
    check(daemons_of(sd) == [sup], f"the daemon is the pid of reins.pid: {daemons_of(sd)} vs {sup}")
    check(read(os.path.join(sd, "pids", "api.pid"), "").strip() == str(pid), "pids/api.pid is the service pid")
    lock = json.loads(read(os.path.join(sd, "reins.lock"), "{}") or "{}")
    check(lock.get("pid") == sup and lock.get("start_time") == start_time(sup) and "version" in lock
          and "started_at" in lock, f"reins.lock: {lock}")
    snap = state_json(sd)
    s = service(snap, "api")
    check(s is not None and s.get("pid") == pid and s.get("pid_start_time") == start_time(pid)
          and s.get("state") == "running" and s.get("port") == port, f"state.json: {snap}")
    # The daemon is detached: its own session, stdio on reins.log.
    check(os.getsid(sup) == sup, "the daemon leads its own session")
    check(os.path.realpath(f"/proc/{sup}/fd/1") == os.path.realpath(os.path.join(sd, "logs", "reins.log")),
          "the daemon's stdout is logs/reins.log")
    r = reins(["status"], d)
    check(r.returncode == 0 and re.search(rf"^api\s+running\s+\S+\s+{pid}\s+{port}\s", r.stdout, re.M),
          f"status: 0 and the row of api: {show(r)}")
    r = reins(["status", "api"], d)
    check(r.returncode == 0, f"status api: 0: {show(r)}")
    r = reins(["status", "--lsb", "api"], d)
    check(r.returncode == 0, f"status --lsb api: 0: {show(r)}")
    r = reins(["status", "nope"], d)
    check(r.returncode == 1 and "nope" in r.stderr, f"status of an unknown service: 1: {show(r)}")
    r = reins(["status", "--lsb", "nope"], d)
    check(r.returncode == 4, f"status --lsb of an unknown service: 4: {show(r)}")
    # Stop the service alone: the supervisor stays.
    r = reins(["stop", "api"], d)
    check(r.returncode == 0, f"stop api: 0: {show(r)}")
    check(not alive(pid) and port_free(port), "stop api returns when the process is gone and its port is free")
    check(alive(sup), "the supervisor stays after stopping one service")
    check(not os.path.exists(os.path.join(sd, "pids", "api.pid")), "pids/api.pid removed")
    r = reins(["status", "api"], d)
    check(r.returncode == 1 and re.search(r"^api\s+stopped", r.stdout, re.M), f"status of a stopped service: 1: {show(r)}")
    r = reins(["status", "--lsb", "api"], d)
    check(r.returncode == 3, f"status --lsb of a stopped service: 3: {show(r)}")
    r = reins(["stop", "api"], d)
    check(r.returncode == 1 and "not running" in r.stderr, f"stop of a stopped service: 1: {show(r)}")
    # restart of a stopped service starts it; of a running one, a new pid.
    r = reins(["restart", "api"], d)
    ready = ready_lines(r.stderr)
    check(r.returncode == 0 and "api" in ready, f"restart of a stopped service starts it: {show(r)}")
    pid2 = ready.get("api", (0, 0))[1]
    track(pid2)
    check(pid2 != pid and alive(pid2), "a new pid")
    r = reins(["restart", "api"], d)
    ready = ready_lines(r.stderr)
    pid3 = ready.get("api", (0, 0))[1]
    track(pid3)
    check(r.returncode == 0 and pid3 and pid3 != pid2 and alive(pid3) and not alive(pid2),
          f"restart of a running service: a new pid, the old one gone: {show(r)}")
    port3 = ready.get("api", (0, 0))[0]
    check(port3 and http_get(port3, "/ready") == 200, "the restarted service answers")
    check(starts_recorded(d) == 3, f"three starts in all: {read(os.path.join(d, 'record-api'))!r}")
    # Stop everything: services, then the daemon; its files go.
    r = reins(["stop"], d)
    check(r.returncode == 0, f"stop: 0: {show(r)}")
    check(not alive(pid3) and port_free(port3), "service gone, port free after stop")
    check(wait_gone(sup, 5), "the daemon exited")
    check(not os.path.exists(os.path.join(sd, "reins.sock")), "reins.sock removed")
    check(not os.path.exists(os.path.join(sd, "reins.pid")), "reins.pid removed")
    check(os.path.isdir(os.path.join(sd, "logs")), "logs/ kept")
    r = reins(["stop"], d)
    check(r.returncode == 1, f"stop again: 1: {show(r)}")
    r = reins(["status"], d)
    check(r.returncode == 1, f"status after stop: 1: {show(r)}")


def test_start_twice(d):
    api_config(d)
    r, ready = start_ok(d)
    if not check("api" in ready, f"ready line: {r.stderr!r}"):
        return
    pid = ready["api"][1]
    sup = supervisor_pid(os.path.join(d, ".reins"))
    r = reins(["start"], d)
    check(r.returncode == 0, f"second start: 0: {show(r)}")
    check(f"reins: api already running (pid {pid})" in r.stderr, f"already running with the service's pid: {r.stderr!r}")
    check(supervisor_pid(os.path.join(d, ".reins")) == sup and alive(pid), "same supervisor, same service process")
    r = reins(["start", "api"], d)
    check(r.returncode == 0 and f"already running (pid {pid})" in r.stderr, f"start api again: {show(r)}")
    check(starts_recorded(d) == 1, "the service was started once")
    r, doc = status_json(d)
    check(service(doc, "api") and service(doc, "api")["restarts"] == 0, f"no restart: {doc}")


def test_concurrent_start(d):
    api_config(d)
    sd = os.path.join(d, ".reins")
    procs = [subprocess.Popen([REINS, "start"], cwd=d, env=env_for(), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        results.append((p.returncode, err))
    sup = supervisor_pid(sd)
    if sup:
        track(sup)
    for code, err in results:
        check(code == 0, f"every concurrent start exits 0: {code}: {err!r}")
    # A loser daemon (if one was spawned) exits at once; then exactly one is left.
    check(wait_for(lambda: len(daemons_of(sd)) == 1, 10), f"exactly one daemon: {daemons_of(sd)}")
    time.sleep(0.3)
    check(daemons_of(sd) == [sup], f"exactly one daemon, the one of reins.pid ({sup}): {daemons_of(sd)}")
    check(starts_recorded(d) == 1, f"the service was started once: {read(os.path.join(d, 'record-api'))!r}")
    r, doc = status_json(d)
    s = service(doc, "api")
    check(r.returncode == 0 and s and s["state"] == "running" and s["restarts"] == 0 and doc["supervisor"]["pid"] == sup,
          f"one running service: {doc}")
    if s:
        track(s["pid"])


def test_second_supervisor_on_locked_dir(d):
    api_config(d)
    r, ready = start_ok(d)
    sup = supervisor_pid(os.path.join(d, ".reins"))
    check(sup is not None, "reins.pid")
    # A foreground supervisor on the same state directory is refused, naming the first.
    r = reins(["run"], d, timeout=30)
    check(r.returncode == 3 and f"pid {sup}" in r.stderr, f"second supervisor: 3 naming pid {sup}: {show(r)}")
    r = reins(["run", "--", "sleep", "30"], d, timeout=30)
    check(r.returncode == 3 and f"pid {sup}" in r.stderr, f"run -- CMD on a locked dir: 3 naming pid {sup}: {show(r)}")
    check(alive(sup) and reins(["status"], d).returncode == 0, "the first supervisor is undisturbed")


def test_failed_startup(d):
    sd = os.path.join(d, ".reins")
    write(d, "reins.toml", f'''version = 1
[service.bad]
command = "echo first-words; echo last-words-of-bad >&2; exit 5"
port = "auto"
ready = {{ tcp = true }}
restart = "no"
''')
    r = reins(["start"], d, timeout=60)
    check(r.returncode == 3, f"a failed startup: exit 3: {show(r)}")
    check("last-words-of-bad" in r.stderr, f"with the service's last output lines: {r.stderr!r}")
    check(wait_for(lambda: not daemons_of(sd), 10), f"the daemon exits by itself: {daemons_of(sd)}")
    sup = supervisor_pid(sd)
    check(not sup or not alive(sup), "reins.pid names no live process")
    r = reins(["status"], d)
    check(r.returncode == 1, f"status after it: 1: {show(r)}")


def test_failed_startup_keeps_daemon_with_others(d):
    sd = os.path.join(d, ".reins")
    write(d, "reins.toml", f'''version = 1
[service.good]
command = {toml_cmd([FIXTURE, "--no-listen"])}
[service.bad]
command = "echo bad-says-bye; exit 5"
port = "auto"
ready = {{ tcp = true }}
restart = "no"
''')
    r, ready = start_ok(d, ["good"], "start good")
    pid = ready.get("good", (0, 0))[1]
    sup = supervisor_pid(sd)
    r = reins(["start", "bad"], d, timeout=60)
    check(r.returncode == 3 and "bad-says-bye" in r.stderr, f"start bad: 3 with its last output: {show(r)}")
    time.sleep(0.5)
    check(alive(sup) and alive(pid), "a daemon that still runs other services stays")
    r = reins(["status", "good"], d)
    check(r.returncode == 0, f"good still running: {show(r)}")
    r = reins(["status", "bad"], d)
    check(r.returncode == 1, f"status bad: 1: {show(r)}")


def test_busy_port_start(d):
    sd = os.path.join(d, ".reins")
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        write(d, "reins.toml", f'''version = 1
[service.api]
command = {toml_cmd([FIXTURE, "--port", "${PORT}", "--record", os.path.join(d, "record-api")])}
port = {port}
ready = {{ tcp = true }}
''')
        r = reins(["start"], d, timeout=60)
        check(r.returncode == 2, f"busy port: exit 2: {show(r)}")
        check(str(port) in r.stderr and f"pid {os.getpid()}" in r.stderr,
              f"names the port and the holder pid {os.getpid()}: {r.stderr!r}")
        check(starts_recorded(d) == 0, "the service was not spawned")
        check(wait_for(lambda: not daemons_of(sd), 10), "the daemon exits by itself")
        r = reins(["start", "--name", "solo", "--port", str(port), "--", FIXTURE, "--port", "$PORT"], d, timeout=60)
        check(r.returncode == 2 and f"pid {os.getpid()}" in r.stderr, f"start --name with a busy port: 2: {show(r)}")
        check(wait_for(lambda: not daemons_of(sd), 10), "the daemon exits by itself (single command)")
    finally:
        holder.close()


def test_start_adds_service(d):
    sd = os.path.join(d, ".reins")
    r, ready = start_ok(d, ["--name", "first", "--", FIXTURE, "--no-listen"], "start --name first")
    sup = supervisor_pid(sd)
    check("first" in ready and ready["first"][0] is None, f"ready line without a port: {r.stderr!r}")
    r, ready2 = start_ok(d, ["--name", "second", "--port", "auto", "--ready", "tcp", "--", FIXTURE, "--port", "$PORT"],
                         "start --name second")
    check("second" in ready2, f"second ready: {r.stderr!r}")
    check(supervisor_pid(sd) == sup and daemons_of(sd) == [sup], "added to the running daemon")
    r, doc = status_json(d)
    names = [s["name"] for s in (doc or {}).get("services", [])]
    check(r.returncode == 0 and sorted(names) == ["first", "second"], f"both in status: {names}")
    if "second" in ready2:
        check(http_get(ready2["second"][0], "/") == 200, "$PORT substituted in the argv of start")
    r = reins(["start", "--name", "first", "--", FIXTURE, "--no-listen"], d)
    check(r.returncode == 0 and "already running" in r.stderr, f"start --name of a running one: {show(r)}")
    r = reins(["stop"], d)
    check(r.returncode == 0 and wait_gone(sup, 5), f"stop all and the daemon: {show(r)}")
    for name, (port, pid) in {**ready, **ready2}.items():
        check(not alive(pid), f"{name} gone")


# ---- a killed supervisor ---------------------------------------------------------------

def kill_supervisor(d):
    sd = os.path.join(d, ".reins")
    sup = supervisor_pid(sd)
    if check(sup and alive(sup), "a supervisor to kill"):
        os.kill(sup, signal.SIGKILL)
        check(wait_gone(sup, 5), "the supervisor died")
    return sup


def test_killed_supervisor(d):
    api_config(d)
    sd = os.path.join(d, ".reins")
    r, ready = start_ok(d)
    if not check("api" in ready, f"started: {r.stderr!r}"):
        return
    port, pid = ready["api"]
    kill_supervisor(d)
    time.sleep(0.2)
    survived = alive(pid)
    r = reins(["status"], d)
    check(r.returncode == 1, f"status after SIGKILL of the supervisor: 1: {show(r)}")
    if survived:
        check(str(pid) in r.stderr, f"the surviving service pid {pid} is listed: {r.stderr!r}")
    r = reins(["status", "--lsb"], d)
    check(r.returncode == 3, f"status --lsb: 3: {show(r)}")
    r = reins(["stop"], d)
    check(r.returncode == (0 if survived else 1), f"stop of the survivors: {show(r)}")
    check(not alive(pid) and wait_for(lambda: port_free(port), 5), "nothing left: service gone, port free")
    check(not os.path.exists(os.path.join(sd, "reins.pid")) and not os.path.exists(os.path.join(sd, "reins.sock")),
          "stale reins.pid / reins.sock removed")
    r = reins(["stop"], d)
    check(r.returncode == 1, f"stop again: 1 (nothing alive): {show(r)}")
    r = reins(["status"], d)
    check(r.returncode == 1 and str(pid) not in r.stderr, f"status lists nothing now: {show(r)}")
    # The state dir is usable again.
    r, ready = start_ok(d, what="start after a killed supervisor")
    check("api" in ready, "started again")


def test_start_after_killed_supervisor(d):
    api_config(d)
    r, ready = start_ok(d)
    if not check("api" in ready, f"started: {r.stderr!r}"):
        return
    port, pid = ready["api"]
    kill_supervisor(d)
    r, ready2 = start_ok(d, what="start after SIGKILL of the supervisor")
    check(not alive(pid), f"the next start stopped the survivor {pid}")
    check("api" in ready2 and ready2["api"][1] != pid, f"a new service process: {r.stderr!r}")
    r, doc = status_json(d)
    check(r.returncode == 0 and len(daemons_of(os.path.join(d, ".reins"))) == 1, f"one supervisor: {show(r)}")


def test_stale_pid_not_signalled(d):
    api_config(d)
    sd = os.path.join(d, ".reins")
    r, ready = start_ok(d)
    if not check("api" in ready, f"started: {r.stderr!r}"):
        return
    port, pid = ready["api"]
    sup = kill_supervisor(d)
    os.killpg(pid, signal.SIGKILL)
    check(wait_gone(pid, 5), "the service is gone too")
    # An unrelated process now has "its" pid in every file (a recycled pid).
    bystander = subprocess.Popen(["sleep", "60"], cwd=d, start_new_session=True)
    track(bystander.pid)
    try:
        snap = state_json(sd)
        for s in snap["services"]:
            s["pid"] = bystander.pid  # pid_start_time stays the old process's: not this one's
        check(service(snap, "api")["pid_start_time"] != start_time(bystander.pid), "start times differ")
        if "supervisor" in snap and isinstance(snap["supervisor"], dict):
            snap["supervisor"]["pid"] = bystander.pid
        write(sd, "state.json", json.dumps(snap))
        write(sd, "reins.pid", f"{bystander.pid}\n")
        os.makedirs(os.path.join(sd, "pids"), exist_ok=True)
        write(os.path.join(sd, "pids"), "api.pid", f"{bystander.pid}\n")
        r = reins(["status"], d)
        check(r.returncode == 1 and f"pid {bystander.pid}" not in r.stderr,
              f"status: 1, the bystander is not a survivor: {show(r)}")
        r = reins(["stop"], d)
        check(r.returncode == 1, f"stop: nothing of the service alive: 1: {show(r)}")
        check(alive(bystander.pid), "stop did not signal the recycled pid")
        api_config(d)
        r, ready = start_ok(d, what="start over stale files")
        check(alive(bystander.pid), "start did not signal the recycled pid")
        r = reins(["stop"], d)
        check(r.returncode == 0, f"stop: {show(r)}")
        check(alive(bystander.pid) and bystander.poll() is None, "the bystander survived everything")
    finally:
        bystander.kill()
        bystander.wait(timeout=10)


# ---- files ---------------------------------------------------------------------------

def test_state_dir_modes(d):
    nested = os.path.join(d, "a", "b", "state")
    old = os.umask(0)
    try:
        r = reins(["start", "--state-dir", nested, "--name", "svc", "--", FIXTURE, "--no-listen"], d,
                  preexec=lambda: os.umask(0))
    finally:
        os.umask(old)
    check(r.returncode == 0, f"start with a nested --state-dir and umask 0: {show(r)}")
    for port, pid in ready_lines(r.stderr).values():
        track(pid)
    sup = supervisor_pid(nested)
    if sup:
        track(sup)
    st = os.stat(nested)
    check(stat.S_IMODE(st.st_mode) == 0o700, f"state dir mode 0700: {oct(st.st_mode)}")
    lock = os.stat(os.path.join(nested, "reins.lock"))
    check(stat.S_IMODE(lock.st_mode) == 0o600, f"reins.lock mode 0600: {oct(lock.st_mode)}")
    sock = os.stat(os.path.join(nested, "reins.sock"))
    check(stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o600,
          f"reins.sock is a socket, mode 0600: {oct(sock.st_mode)}")
    check(not os.path.exists(os.path.join(d, ".reins")), "no .reins in the cwd when --state-dir is given")
    # The lock is really held (flock) by the supervisor.
    with open(os.path.join(nested, "reins.lock")) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = False
            fcntl.flock(f, fcntl.LOCK_UN)
        except OSError:
            held = True
    check(held, "reins.lock is flocked by the supervisor")
    # REINS_STATE_DIR is the same as --state-dir.
    r = reins(["status"], d, env={"REINS_STATE_DIR": nested})
    check(r.returncode == 0 and "svc" in r.stdout, f"status with REINS_STATE_DIR: {show(r)}")
    r = reins(["stop", "--state-dir", nested], d)
    check(r.returncode == 0 and wait_gone(sup, 5), f"stop --state-dir: {show(r)}")


def parse_table(text):
    lines = text.splitlines()
    header = lines[0]
    cols = ["SERVICE", "STATE", "HEALTH", "PID", "PORT", "UPTIME", "RESTARTS", "LAST EXIT", "STATUS"]
    starts = [header.index(c) for c in cols]
    rows = []
    for l in lines[1:]:
        row = {}
        for i, c in enumerate(cols):
            end = starts[i + 1] if i + 1 < len(cols) else None
            row[c] = l[starts[i]:end].strip()
        rows.append(row)
    return header, rows


def test_status_json_matches_table(d):
    write(d, "reins.toml", f'''version = 1
[service.api]
command = {toml_cmd([FIXTURE, "--port", "${PORT}"])}
port = "auto"
ready = {{ tcp = true }}
[service.worker]
command = {toml_cmd([FIXTURE, "--no-listen"])}
''')
    sd = os.path.join(d, ".reins")
    start_ok(d)
    r = reins(["stop", "worker"], d)
    check(r.returncode == 0, f"stop worker: {show(r)}")
    table = reins(["status"], d)
    rj, doc = status_json(d)
    check(table.returncode == 1 and rj.returncode == 1, "status exits 1 with a stopped service (table and json)")
    if not check(doc is not None, f"status --json parses: {rj.stdout!r}"):
        return
    check(rj.stderr == "", f"--json: nothing on stderr: {rj.stderr!r}")
    sup = doc.get("supervisor", {})
    check(sup.get("pid") == supervisor_pid(sd), f"supervisor pid: {sup}")
    check(os.path.realpath(sup.get("state_dir", "")) == os.path.realpath(sd), f"state_dir: {sup}")
    check(os.path.realpath(sup.get("config", "") or "") == os.path.realpath(os.path.join(d, "reins.toml")),
          f"config: {sup}")
    version = reins(["--version"], d).stdout.split()
    check(version and sup.get("version") in version[-1], f"version {sup.get('version')} vs {version}")
    check(isinstance(sup.get("uptime_ms"), int) and sup["uptime_ms"] >= 0, "uptime_ms")
    keys = {"name", "state", "health", "pid", "pid_start_time", "port", "restarts", "uptime_ms", "last_exit",
            "stopped_by", "status_text", "instance", "last_output"}
    for s in doc.get("services", []):
        check(keys <= set(s), f"service keys: missing {keys - set(s)}")
    header, rows = parse_table(table.stdout)
    check([r["SERVICE"] for r in rows] == [s["name"] for s in doc["services"]] == ["api", "worker"],
          f"same services in the same order: {table.stdout!r}")
    for row, s in zip(rows, doc["services"]):
        check(row["STATE"] == s["state"] and row["HEALTH"] == s["health"], f"state/health of {s['name']}: {row} {s}")
        check(row["PID"] == (str(s["pid"]) if s["pid"] else "-"), f"pid of {s['name']}: {row} {s}")
        check(row["PORT"] == (str(s["port"]) if s["port"] else "-"), f"port of {s['name']}: {row} {s}")
        check(row["RESTARTS"] == str(s["restarts"]), f"restarts of {s['name']}")
        check(row["LAST EXIT"] == (s["last_exit"] or "-"), f"last exit of {s['name']}: {row} {s}")
    api, worker = service(doc, "api"), service(doc, "worker")
    check(api["state"] == "running" and api["pid"] and api["port"] and api["instance"], f"api: {api}")
    check(api["pid_start_time"] == start_time(api["pid"]), "pid_start_time is /proc/PID/stat field 22")
    check(worker["state"] == "stopped" and not worker["pid"] and worker["last_exit"], f"worker: {worker}")
    r, one = status_json(d, ["api"])
    check(r.returncode == 0 and [s["name"] for s in one["services"]] == ["api"], f"status --json api: {one}")


if __name__ == "__main__":
    main(globals())
