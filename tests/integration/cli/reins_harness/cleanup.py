"""What the running test started, and stopping all of it after the test,
pass or fail: `reins stop`, then SIGKILL by pid (state files with a matching
start time, tracked pids, the test dir in a cmdline or cwd), never by name."""
import json
import os
import signal
import subprocess
import sys

from .checks import sanitizer_clean
from .command import REINS, env_for
from .files import read
from .processes import alive, cmdline, ours, signal_pid, start_time, wait_gone

running_test = {"dir": None, "pids": set(), "popens": []}  # the running test's dir, tracked pids, Popens


def track(pid):
    """A pid the cleanup kills (if it is still the same process)."""
    running_test["pids"].add((pid, start_time(pid)))


def cleanup(d):
    # 1. Politely: reins stop on every state dir under d.
    for root, dirs, files in os.walk(d):
        if "reins.lock" in files or "state.json" in files or "reins.pid" in files:
            try:
                subprocess.run([REINS, "stop", "--state-dir", root], cwd=d, env=env_for(), capture_output=True,
                               timeout=30, stdin=subprocess.DEVNULL)
            except Exception:
                pass
    # 2. Foreground reins processes we started: kill their group.
    for p in running_test["popens"]:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                p.wait(timeout=10)
            except Exception:
                pass
    # 3. Pids named in the state files (only if still the recorded process), and our own.
    victims = set()
    for root, dirs, files in os.walk(d):
        if "state.json" in files:
            try:
                snap = json.loads(read(os.path.join(root, "state.json"), "{}"))
                for s in snap.get("services", []):
                    pid, st = s.get("pid") or 0, s.get("pid_start_time")
                    if pid and alive(pid) and (st is None or start_time(pid) == st):
                        victims.add(pid)
            except Exception:
                pass
        if "reins.pid" in files:
            try:
                pid = int(read(os.path.join(root, "reins.pid"), "0").strip() or 0)
                if pid and any(d in a for a in cmdline(pid)):
                    victims.add(pid)
            except ValueError:
                pass
    for pid, st in running_test["pids"]:
        if alive(pid) and start_time(pid) == st:
            victims.add(pid)
    victims.update(ours(d))
    for pid in victims:
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        signal_pid(pid)
    for pid in victims:
        wait_gone(pid, 5)
    # What the daemons said on their stderr (logs/reins.log), and reins run's stderr.
    for root, dirs, files in os.walk(d):
        if "reins.log" in files:
            sanitizer_clean(read(os.path.join(root, "reins.log"), ""), os.path.join(root, "reins.log"))
    left = ours(d)
    if left:
        print(f"warning: processes of {d} still alive after cleanup: {left}", file=sys.stderr)
