"""Processes by pid, from /proc: alive, their children, a test's own, and waiting on them."""
import os
import signal
import time

from .files import read


def proc_stat(pid):
    """(state, start_time) from /proc/PID/stat, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[19])


def alive(pid):
    if not pid or pid <= 0:
        return False
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def start_time(pid):
    st = proc_stat(pid)
    return st[1] if st else None


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def rss_kib(pid):
    for line in (read(f"/proc/{pid}/status") or "").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def wait_for(cond, timeout, step=0.02):
    until = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= until:
            return v
        time.sleep(step)


def wait_gone(pid, timeout=10):
    return wait_for(lambda: not alive(pid), timeout)


def daemons_of(state_dir):
    """Pids of `reins __daemon` processes whose cmdline names this state dir."""
    found = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        cl = cmdline(int(e))
        if "__daemon" in cl and any(state_dir in a for a in cl) and alive(int(e)):
            found.append(int(e))
    return found


def children_of(pid):
    """Pids of the live children of `pid`."""
    found = []
    for e in os.listdir("/proc"):
        if e.isdigit():
            st = read(f"/proc/{e}/stat", "")
            if st and int(st[st.rindex(")") + 2:].split()[1]) == pid and alive(int(e)):
                found.append(int(e))
    return found


def keepers_of(pid):
    """The keeper processes of supervisor `pid`: its children called reins-keeper."""
    return [c for c in children_of(pid) if (read(f"/proc/{c}/comm", "") or "").strip() == "reins-keeper"]


def kill_with_keeper(sup):
    """SIGKILL of supervisor `sup` together with its keeper process (docs/engine.md,
    "When the supervisor dies"): its services then survive it, as they would a
    supervisor whose keeper cannot see them, for the survivor handling of the
    next command to find. Frozen first, so that it cannot start a new keeper."""
    try:
        os.kill(sup, signal.SIGSTOP)
    except OSError:
        return
    for k in keepers_of(sup):
        signal_pid(k)
        wait_gone(k, 5)
    signal_pid(sup)


def ours(d):
    """Pids of live processes that belong to test dir `d`: their cmdline names
    it or their cwd is inside it."""
    real = os.path.realpath(d)
    me = os.getpid()
    found = []
    for e in os.listdir("/proc"):
        if not e.isdigit() or int(e) == me:
            continue
        pid = int(e)
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            cwd = ""
        if cwd == real or cwd.startswith(real + "/") or any(real in a or d in a for a in cmdline(pid)):
            if alive(pid):
                found.append(pid)
    return found


def signal_pid(pid, sig=signal.SIGKILL):
    """Sends `sig` to `pid`; a process already gone is no error."""
    try:
        os.kill(pid, sig)
    except OSError:
        pass
