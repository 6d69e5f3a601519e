#!/usr/bin/env python3
"""Readiness notification (sd_notify) through the real binary: `--ready notify`
and `ready = { notify = true }`, READY=1, STATUS=, STOPPING=1, MAINPID=,
WATCHDOG=1 with `health.watchdog`, BARRIER=1, who may send, and a flood of
STATUS= lines during a slow stop. Real clients where Debian has them
(`systemd-notify`, `redis-server --supervised systemd`), small Python
services speaking the protocol otherwise (docs/engine.md, "Readiness
notification").

Usage: notify_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
"""
import json
import os
import re
import shutil
import signal
import socket
import stat
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import (alive, check, main, port_free, proc_stat, read, reins, run_fg, service, show, start_ok,
                           status_json, supervisor_pid, toml_cmd, track, wait_for, wait_gone, write)

# The sd_notify client the Python services below import (written into each
# test's folder): one datagram per call, with BARRIER=1 as systemd-notify
# sends it — a pipe's write end passed along, closed by the receiver.
SDNOTIFY_PY = r'''
import array, os, select, socket

def _address():
    a = os.environ["NOTIFY_SOCKET"]
    return "\0" + a[1:] if a.startswith("@") else a

def notify(text, barrier=False, block=True):
    """Sends `text`; with barrier, waits (5 s at most) until reins has read it.
    block=False: never wait for room in the socket (False when it is full)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.connect(_address())
        try:
            s.send(text.encode(), 0 if block else socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        if barrier:
            r, w = os.pipe()
            s.sendmsg([b"BARRIER=1"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w]))])
            os.close(w)
            p = select.poll()
            p.register(r, select.POLLHUP)
            ok = bool(p.poll(5000))
            os.close(r)
            return ok
        return True
    finally:
        s.close()
'''


def setup(d, name, body):
    """Writes sdnotify.py and a service script `name` into d; its path."""
    write(d, "sdnotify.py", SDNOTIFY_PY)
    return write(d, name, "import os, sys, time, signal\nfrom sdnotify import notify\n" + body)


def sd(d):
    return os.path.join(d, ".reins")


def svc(d, name="web"):
    r, doc = status_json(d, [name])
    return service(doc, name) or {}


def wait_state(d, want, timeout=15, name="web"):
    return wait_for(lambda: svc(d, name).get("state") == want, timeout, 0.05)


def log_of(d, name="reins"):
    return read(os.path.join(sd(d), "logs", f"{name}.log"), "") or ""


# ---- READY=1 -----------------------------------------------------------------------

def test_ready_from_python_through_start(d):
    setup(d, "svc.py", '''
time.sleep(0.3)
open("env-notify", "w").write(os.environ.get("NOTIFY_SOCKET", ""))
notify("READY=1\\nSTATUS=serving requests")
time.sleep(120)
''')
    t0 = time.monotonic()
    r, ready = start_ok(d, ["--name", "web", "--ready", "notify", "--", "python3", "svc.py"], "start --ready notify")
    if not check("web" in ready, f"a ready line for web: {show(r)}"):
        return
    pid = ready["web"][1]
    check(time.monotonic() - t0 >= 0.3, "start waited for READY=1")
    sock = os.path.join(sd(d), "notify", "web.sock")
    check(read(os.path.join(d, "env-notify")) == sock, f"NOTIFY_SOCKET is notify/web.sock: {read(os.path.join(d, 'env-notify'))!r}")
    st = os.stat(os.path.join(sd(d), "notify"))
    check(stat.S_IMODE(st.st_mode) == 0o700, f"notify/ is 0700: {oct(st.st_mode)}")
    check(stat.S_ISSOCK(os.stat(sock).st_mode), "the socket is there while the service runs")
    s = svc(d)
    check(s.get("state") == "running" and s.get("pid") == pid, f"running with its pid: {s}")
    r = reins(["stop"], d, timeout=30)
    check(r.returncode == 0, f"stop: {show(r)}")
    check(not alive(pid), "the service is gone")
    check(not os.path.exists(sock), "the socket file is removed with the run")


def test_ready_from_systemd_notify_with_barrier(d):
    # systemd-notify sends READY=1, then BARRIER=1 with a pipe, and waits (5 s
    # at most, then fails) until the pipe is closed: a prompt 0 means reins
    # closed the descriptor it was passed.
    script = ('start=$(date +%s%N); systemd-notify --ready --status="via systemd-notify"; rc=$?; '
              'end=$(date +%s%N); echo "systemd-notify rc=$rc ms=$(( (end - start) / 1000000 ))"; exec sleep 120')
    r, ready = start_ok(d, ["--name", "web", "--ready", "notify", "--startup-timeout", "20s", "--", "sh", "-c", script],
                        "start with systemd-notify")
    check("web" in ready, f"ready: {show(r)}")
    line = wait_for(lambda: re.search(r"systemd-notify rc=(\d+) ms=(\d+)", log_of(d, "web")), 10)
    if not check(line, f"systemd-notify returned: {log_of(d, 'web')!r}"):
        return
    check(line.group(1) == "0", f"systemd-notify succeeded: {line.group(0)}")
    check(int(line.group(2)) < 4000, f"BARRIER=1 returned at once, not after systemd-notify's 5 s timeout: {line.group(0)}")
    check(svc(d).get("status_text") == "via systemd-notify", f"its STATUS=: {svc(d)}")


def test_redis_server_supervised_systemd(d):
    redis = shutil.which("redis-server")
    if not check(redis, "redis-server is installed (tools/dev deps)"):
        return
    r, ready = start_ok(d, ["--name", "db", "--port", "auto", "--ready", "notify", "--", redis, "--port", "$PORT",
                            "--supervised", "systemd", "--save", "", "--appendonly", "no", "--dir", d],
                        "start redis-server --supervised systemd")
    if not check("db" in ready, f"redis is ready: {show(r)}"):
        return
    s = svc(d, "db")
    port = s.get("port")
    check(s.get("state") == "running" and port, f"running on its port: {s}")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"PING\r\n")
            answer = c.recv(64)
    except OSError as e:
        answer = repr(e).encode()
    check(answer.startswith(b"+PONG"), f"redis answers on the port: {answer!r}")
    check("accept connections" in s.get("status_text", ""), f"redis's STATUS= is shown: {s}")
    pid = s.get("pid")
    r = reins(["stop"], d, timeout=30)
    check(r.returncode == 0 and not alive(pid) and port_free(port), f"stopped, port free: {show(r)}")


def test_ready_notify_from_toml_in_run_and_start(d):
    setup(d, "svc.py", 'notify("STATUS=warming up")\ntime.sleep(0.2)\nnotify("READY=1")\ntime.sleep(120)\n')
    write(d, "reins.toml", f'''version = 1
[service.web]
command = {toml_cmd(["python3", "svc.py"])}
ready = {{ notify = true }}
''')
    # reins run: the foreground supervisor creates notify/ too.
    fg = run_fg(["run"], d)
    m = fg.wait_line(r"reins: web ready", 20)
    check(m, f"reins run: web ready: {fg.stderr_text()!r}")
    check(os.path.isdir(os.path.join(sd(d), "notify")), "reins run created notify/")
    fg.signal(signal.SIGINT)
    code = fg.wait(30)
    check(code == 0, f"reins run exits 0 after Ctrl-C: {code}; {fg.stderr_text()!r}")
    # reins start of the same config.
    r, ready = start_ok(d, [], "start from reins.toml")
    check("web" in ready, f"ready from the config: {show(r)}")


def test_long_state_dir_uses_an_abstract_socket(d):
    # notify/web.sock would not fit in sun_path (108 bytes): an abstract name.
    deep = os.path.join(d, "x" * 60, "y" * 60)
    os.makedirs(deep)
    setup(d, "svc.py", 'open("env-notify", "w").write(os.environ["NOTIFY_SOCKET"])\n'
                       'notify("READY=1", barrier=True)\ntime.sleep(120)\n')
    r, ready = start_ok(d, ["--state-dir", deep, "--name", "web", "--ready", "notify", "--", "python3", "svc.py"],
                        "start with a long state dir")
    check("web" in ready, f"ready through an abstract socket: {show(r)}")
    name = read(os.path.join(d, "env-notify"), "")
    check(name.startswith("@reins-") and name.endswith("-web"), f"NOTIFY_SOCKET is abstract: {name!r}")
    check(os.listdir(os.path.join(deep, "notify")) == [], "no socket file")
    track(supervisor_pid(deep) or 0)
    r = reins(["stop", "--state-dir", deep], d, timeout=30)
    check(r.returncode == 0, f"stop: {show(r)}")


# ---- STATUS=, STOPPING=1 ------------------------------------------------------------

def test_status_text_in_status_and_json(d):
    setup(d, "svc.py", '''
notify("READY=1\\nSTATUS=phase one")
while not os.path.exists("next"):
    time.sleep(0.05)
notify("STATUS=phase two: 3 jobs", barrier=True)
time.sleep(120)
''')
    r, ready = start_ok(d, ["--name", "web", "--ready", "notify", "--", "python3", "svc.py"])
    check("web" in ready, f"ready: {show(r)}")
    check(wait_for(lambda: svc(d).get("status_text") == "phase one", 5), f"status --json: phase one: {svc(d)}")
    r = reins(["status"], d)
    check(r.returncode == 0 and re.search(r"^web\s+running\s.*phase one$", r.stdout, re.M),
          f"the STATUS column of the table: {show(r)}")
    write(d, "next", "")
    check(wait_for(lambda: svc(d).get("status_text") == "phase two: 3 jobs", 10), f"updated: {svc(d)}")
    r = reins(["status"], d)
    check(re.search(r"^web\s+running\s.*phase two: 3 jobs$", r.stdout, re.M), f"updated in the table: {show(r)}")
    r = reins(["status", "--json"], d)
    doc = json.loads(r.stdout or "{}")
    check(service(doc, "web") and service(doc, "web").get("status_text") == "phase two: 3 jobs",
          f"status --json of all services: {r.stdout!r}")


def test_stopping_then_exit_ends_stopped_not_restarted(d):
    setup(d, "svc.py", '''
open("starts", "a").write("start\\n")
notify("READY=1")
while not os.path.exists("quit"):
    time.sleep(0.05)
notify("STOPPING=1\\nSTATUS=shutting down", barrier=True)
while not os.path.exists("really"):
    time.sleep(0.05)
sys.exit(3)
''')
    r, ready = start_ok(d, ["--name", "web", "--ready", "notify", "--restart", "on-failure", "--",
                            "python3", "svc.py"])
    if not check("web" in ready, f"ready: {show(r)}"):
        return
    pid = ready["web"][1]
    write(d, "quit", "")
    check(wait_state(d, "stopping"), f"STOPPING=1 shows stopping: {svc(d)}")
    s = svc(d)
    check(s.get("pid") == pid and s.get("status_text") == "shutting down", f"while stopping: {s}")
    check("service reported STOPPING=1" in log_of(d), f"the transition's reason: {log_of(d)[-800:]!r}")
    write(d, "really", "")
    check(wait_state(d, "stopped"), f"its exit after STOPPING=1 ends stopped: {svc(d)}")
    time.sleep(1.0)  # well past the first restart's backoff (100 ms)
    s = svc(d)
    check(s.get("state") == "stopped" and s.get("restarts") == 0 and s.get("last_exit") == "exit 3",
          f"not restarted, not a crash, its exit recorded: {s}")
    check(read(os.path.join(d, "starts"), "").count("start") == 1, "started once")
    check(not alive(pid), "gone")
    r = reins(["status", "web"], d)
    check(r.returncode == 1 and re.search(r"^web\s+stopped", r.stdout, re.M), f"status: stopped, exit 1: {show(r)}")


def test_stopping_and_exit_at_once(d):
    # No barrier: the datagram and the exit reach reins together, and the
    # process is already reaped when its STOPPING=1 is read. It still counts.
    setup(d, "svc.py", '''
open("starts", "a").write("start\\n")
notify("READY=1")
while not os.path.exists("quit"):
    time.sleep(0.05)
notify("STOPPING=1")
sys.exit(3)
''')
    r, ready = start_ok(d, ["--name", "web", "--ready", "notify", "--", "python3", "svc.py"])
    if not check("web" in ready, f"ready: {show(r)}"):
        return
    pid = ready["web"][1]
    # Hold the supervisor still (SIGSTOP) while the service sends and exits:
    # it then finds the datagram and the exit at once, and reaps the process
    # before it reads the message.
    sup = supervisor_pid(sd(d))
    os.kill(sup, signal.SIGSTOP)
    try:
        write(d, "quit", "")
        check(wait_for(lambda: (proc_stat(pid) or ("?",))[0] == "Z", 10), "the service exited (a zombie)")
    finally:
        os.kill(sup, signal.SIGCONT)
    check(wait_state(d, "stopped"), f"stopped: {svc(d)}")
    time.sleep(1.0)
    s = svc(d)
    check(s.get("state") == "stopped" and s.get("restarts") == 0 and s.get("last_exit") == "exit 3",
          f"not restarted: {s}")
    check(read(os.path.join(d, "starts"), "").count("start") == 1, "started once")
    check("ignored sd_notify" not in log_of(d), f"its own message was not refused: {log_of(d)[-600:]!r}")


# ---- MAINPID= ------------------------------------------------------------------------

def forking_service(clean_env):
    """A classic forking server: the spawned process starts a daemon (own
    session) and exits once the daemon told reins with MAINPID= that it is
    the main process. With clean_env the daemon re-executes itself without
    REINS_INSTANCE (as a program that rewrites its environment would), so
    only MAINPID= ties it to the service once its parent is gone."""
    return '''
CLEAN = %s

def daemon():
    open("daemon.pid", "w").write(str(os.getpid()))
    # A MAINPID= naming a process that is not the service's is ignored.
    notify("MAINPID=" + os.environ["TEST_RUNNER_PID"], barrier=True)
    notify("MAINPID=%%d\\nREADY=1\\nSTATUS=daemon up" %% os.getpid(), barrier=True)
    open("handed-over", "w").write("")
    while not os.path.exists("quit"):
        time.sleep(0.05)
    os._exit(4)

if sys.argv[1:] == ["daemon"]:
    daemon()
if os.fork() == 0:
    os.setsid()
    if CLEAN:
        env = dict(os.environ)
        env.pop("REINS_INSTANCE", None)
        os.execve(sys.executable, [sys.executable, "svc.py", "daemon"], env)
    daemon()
while not os.path.exists("handed-over"):
    time.sleep(0.02)
open("parent.pid", "w").write(str(os.getpid()))
sys.exit(0)
''' % clean_env


def start_forking(d, clean_env, extra=()):
    setup(d, "svc.py", forking_service(clean_env))
    r = reins(["start", "--name", "web", "--ready", "notify", "--env", f"TEST_RUNNER_PID={os.getpid()}", *extra,
               "--", "python3", "svc.py"], d, timeout=60)
    check(r.returncode == 0, f"start: {show(r)}")
    daemon = int(read(os.path.join(d, "daemon.pid"), "0") or 0)
    if daemon > 1:
        track(daemon)
    parent = int(wait_for(lambda: read(os.path.join(d, "parent.pid")), 10) or 0)
    check(daemon > 1 and parent > 1 and daemon != parent, f"daemon {daemon}, spawned {parent}")
    check(wait_gone(parent, 10), "the spawned process exited")
    return r, daemon


def test_mainpid_handover_of_a_forking_service(d):
    r, daemon = start_forking(d, False, ["--restart", "no"])
    check(re.search(rf"web ready.*\(pid {daemon}\b", r.stderr), f"the ready line names the daemon: {r.stderr!r}")
    time.sleep(0.5)
    s = svc(d)
    check(s.get("state") == "running" and s.get("pid") == daemon and s.get("status_text") == "daemon up",
          f"still running as the daemon's pid after the spawned process exited: {s}")
    check(read(os.path.join(sd(d), "pids", "web.pid"), "").strip() == str(daemon), "pids/web.pid is the daemon")
    check(re.search(rf"ignored MAINPID={os.getpid()} from pid {daemon}", log_of(d)),
          f"the outsider's MAINPID= is ignored, and said: {log_of(d)[-800:]!r}")
    # The daemon's exit is the service's exit, with its status.
    write(d, "quit", "")
    check(wait_state(d, "stopped"), f"the daemon's exit ends the service: {svc(d)}")
    s = svc(d)
    check(s.get("last_exit") == "exit 4" and s.get("restarts") == 0, f"its exit status: {s}")


def test_mainpid_daemon_is_stopped_with_the_service(d):
    r, daemon = start_forking(d, True)
    check(alive(daemon), "the daemon lives on alone")
    env = (read(f"/proc/{daemon}/environ", "") or "") if alive(daemon) else ""
    check("REINS_INSTANCE=" not in env, "it carries no REINS_INSTANCE")
    check(svc(d).get("pid") == daemon, f"the main pid: {svc(d)}")
    r = reins(["stop", "web"], d, timeout=30)
    check(r.returncode == 0, f"stop web: {show(r)}")
    check(not alive(daemon), "stop ends the handed-over main process")
    s = svc(d)
    check(s.get("state") == "stopped" and s.get("pid") == 0, f"stopped: {s}")


# ---- WATCHDOG=1 ------------------------------------------------------------------------

def test_watchdog_missed_deadline_restarts(d):
    setup(d, "svc.py", '''
open("starts", "a").write("start WATCHDOG_USEC=%s\\n" % os.environ.get("WATCHDOG_USEC"))
notify("READY=1")
for _ in range(8):            # pings well within the deadline for a while...
    notify("WATCHDOG=1")
    time.sleep(0.1)
time.sleep(120)               # ...then hangs: no more pings
''')
    write(d, "reins.toml", f'''version = 1
[service.web]
command = {toml_cmd(["python3", "svc.py"])}
ready = {{ notify = true }}
health = {{ watchdog = "500ms" }}
restart.backoff = {{ initial = "100ms" }}
''')
    r, ready = start_ok(d, [], "start with a watchdog")
    if not check("web" in ready, f"ready: {show(r)}"):
        return
    first = ready["web"][1]
    starts = lambda: (read(os.path.join(d, "starts"), "") or "").count("start ")
    check(wait_for(lambda: starts() >= 2, 20), f"restarted after the missed deadline: {read(os.path.join(d, 'starts'))!r}")
    check("start WATCHDOG_USEC=500000" in read(os.path.join(d, "starts"), ""), "WATCHDOG_USEC is exported")
    check(wait_for(lambda: svc(d).get("restarts", 0) >= 1, 10), f"the restart counts: {svc(d)}")
    check(re.search(r"unhealthy: no WATCHDOG=1 within 500ms", log_of(d)), f"why: {log_of(d)[-800:]!r}")
    check(wait_gone(first, 10), "the hung process was stopped")


# ---- who may send ------------------------------------------------------------------------

def test_descendant_in_its_own_session_is_accepted(d):
    # A double fork with setsid(): the sender is no descendant of the main
    # process any more (its parent is gone) and not in its group; it carries
    # the run's REINS_INSTANCE.
    setup(d, "svc.py", '''
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(0.2)
        open("sender", "w").write("%d %d %d" % (os.getpid(), os.getsid(0), os.getppid()))
        notify("READY=1\\nSTATUS=from a grandchild", barrier=True)
        time.sleep(120)
        os._exit(0)
    os._exit(0)
time.sleep(120)
''')
    r, ready = start_ok(d, ["--name", "web", "--ready", "notify", "--startup-timeout", "15s", "--",
                            "python3", "svc.py"], "start with a setsid'd sender")
    if not check("web" in ready, f"ready from the grandchild: {show(r)}"):
        return
    main_pid = ready["web"][1]
    pid, sid, ppid = (int(x) for x in (read(os.path.join(d, "sender"), "0 0 0") or "0 0 0").split())
    track(pid)
    # Another session than the service's (which is the main pid's), and its
    # parent is gone: neither the group nor the parent chain links it.
    check(pid not in (0, main_pid) and sid not in (0, main_pid) and ppid != main_pid,
          f"the sender: pid {pid}, session {sid}, parent {ppid}; main pid {main_pid}")
    check(svc(d).get("status_text") == "from a grandchild", f"{svc(d)}")


def test_a_process_outside_the_service_is_ignored(d):
    setup(d, "svc.py", '''
while not os.path.exists("go"):
    time.sleep(0.05)
notify("READY=1", barrier=True)
time.sleep(120)
''')
    fg = run_fg(["start", "--name", "web", "--ready", "notify", "--startup-timeout", "30s", "--",
                 "python3", "svc.py"], d)
    sock = os.path.join(sd(d), "notify", "web.sock")
    if not check(wait_for(lambda: os.path.exists(sock), 15), "the notify socket appears"):
        return
    # This test process is no process of the service: its READY=1 must not count.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.connect(sock)
    s.send(b"READY=1\nSTATUS=forged\nSTOPPING=1")
    s.close()
    time.sleep(1.0)
    st = svc(d)
    check(st.get("state") == "starting" and st.get("status_text", "") != "forged",
          f"still starting, nothing taken from the outsider: {st}")
    check(fg.p.poll() is None, "reins start still waits")
    check(f"ignored sd_notify messages from pid {os.getpid()}" in log_of(d),
          f"logged once: {log_of(d)[-800:]!r}")
    write(d, "go", "")
    code = fg.wait(30)
    check(code == 0 and "web ready" in fg.stderr_text(), f"then the service's own READY=1: {code} {fg.stderr_text()!r}")
    check(log_of(d).count("ignored sd_notify messages") == 1, "said once")


# ---- a flood of STATUS= -----------------------------------------------------------------------

def test_status_flood_during_a_slow_stop(d):
    # Thousands of STATUS= a second, also for a second after SIGTERM: the
    # stop must still complete (the supervisor does not read its mailbox
    # while stopping), and status keeps answering meanwhile.
    setup(d, "svc.py", '''
until = [None]
def on_term(sig, frame):
    until[0] = time.monotonic() + 1.0
signal.signal(signal.SIGTERM, on_term)
notify("READY=1")
n = 0
while until[0] is None or time.monotonic() < until[0]:
    n += 1
    notify("STATUS=line %d" % n, block=False)
    if n % 1000 == 0:
        open("sent", "w").write(str(n))
sys.exit(0)
''')
    r, ready = start_ok(d, ["--name", "web", "--ready", "notify", "--", "python3", "svc.py"])
    if not check("web" in ready, f"ready: {show(r)}"):
        return
    pid = ready["web"][1]
    check(wait_for(lambda: int(read(os.path.join(d, "sent"), "0") or 0) >= 5000, 30), "the flood runs")
    texts = []
    for _ in range(3):
        t0 = time.monotonic()
        texts.append(svc(d).get("status_text", ""))
        check(time.monotonic() - t0 < 5, "status answers during the flood")
        time.sleep(0.3)
    nums = [int(m.group(1)) for m in (re.match(r"line (\d+)$", t) for t in texts) if m]
    check(len(nums) == 3 and nums[0] < nums[2], f"the latest STATUS= is shown: {texts}")
    t0 = time.monotonic()
    r = reins(["stop"], d, timeout=40)
    took = time.monotonic() - t0
    check(r.returncode == 0, f"stop completes: {show(r)}")
    check(took < 30, f"within a bound: {took:.1f}s")
    check(not alive(pid), "the flooder is gone")


if __name__ == "__main__":
    main(globals(), __doc__)
