#!/usr/bin/env python3
"""Readiness notification (sd_notify) through the real binary: `--ready notify`
and `ready = { notify = true }`, READY=1, STATUS=, STOPPING=1, and WATCHDOG=1
with `health.watchdog`. Real clients where Debian has them
(`systemd-notify`, `redis-server --supervised systemd`), small Python
services speaking the protocol otherwise (docs/engine.md, "Readiness
notification"). MAINPID=, who may send and a flood of STATUS= lines are in
notify_senders_cli_test.py.

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
                           supervisor_pid, toml_cmd, track, wait_for, wait_gone, write)
from notify_services import log_of, sd, setup, svc, wait_state


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


if __name__ == "__main__":
    main(globals(), __doc__)
