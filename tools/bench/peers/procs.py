"""What /proc says about processes: state, tree, memory, CPU ticks."""

import os
import signal
import time

TICK = os.sysconf("SC_CLK_TCK")


def stat(pid):
    """Fields of /proc/PID/stat as a dict, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode(errors="replace")
    except OSError:
        return None
    close = raw.rindex(")")  # the command name may hold spaces and parentheses
    rest = raw[close + 2:].split()
    return {
        "comm": raw[raw.index("(") + 1:close],
        "state": rest[0],
        "ppid": int(rest[1]),
        "ticks": int(rest[11]) + int(rest[12]),  # utime + stime
        "start": int(rest[19]),  # starttime: tells a reused pid apart
    }


def alive(pid):
    """A zombie counts as dead: it holds no memory, no port, runs no code."""
    s = stat(pid)
    return s is not None and s["state"] not in ("Z", "X")


def start_time(pid):
    s = stat(pid)
    return s["start"] if s else None


def exe(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def tree(root, skip_exe=None):
    """root and its descendants, not descending into processes running skip_exe
    (the services: what they fork is theirs, not the supervisor's)."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            s = stat(int(name))
            if s:
                children.setdefault(s["ppid"], []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if not alive(pid) or (pid != root and skip_exe and exe(pid) == skip_exe):
            continue
        out.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(out)


def memory(pids):
    """(RSS, PSS) in KiB summed over pids, from smaps_rollup."""
    rss = pss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


def cpu_snapshot(pids):
    """{(pid, start): ticks} of the processes alive now."""
    out = {}
    for pid in pids:
        s = stat(pid)
        if s:
            out[(pid, s["start"])] = s["ticks"]
    return out


def cpu_ticks_between(before, after):
    """Ticks used between two snapshots; a process new in `after` counts from 0.
    (One that died between them is lost: the supervisors' own processes live.)"""
    return sum(t - before.get(key, 0) for key, t in after.items())


def wait_until(predicate, timeout, step=0.01):
    until = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > until:
            return False
        time.sleep(step)


def kill(pid, start, sig=signal.SIGKILL):
    """Signals pid only if it is still the process that had that start time."""
    if start is not None and start_time(pid) == start and alive(pid):
        try:
            os.kill(pid, sig)
            return True
        except OSError:
            pass
    return False
