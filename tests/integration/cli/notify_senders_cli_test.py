#!/usr/bin/env python3
"""Who may send what over sd_notify, through the real binary: MAINPID=
handing a forking service over to its daemon (and an outsider's MAINPID=
ignored), a descendant in a session of its own accepted, a process outside
the service ignored, and a flood of STATUS= lines during a slow stop
(docs/engine.md, "Readiness notification"). READY=1, STATUS=, STOPPING=1
and WATCHDOG=1 are in notify_cli_test.py.

Usage: notify_senders_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
"""
import os
import re
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import alive, check, main, read, reins, run_fg, show, start_ok, track, wait_for, wait_gone, write
from notify_services import log_of, sd, setup, svc, wait_state


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
