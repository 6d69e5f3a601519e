"""The run's folder, the test child, ports, and every process the run may leave.

Everything lives under /tmp/reins-peers-<pid>/ (removed at the end). Every
process that a supervisor or a service started is remembered with its start
time, so cleanup kills exactly those pids and never a recycled one.
"""

import os
import shutil
import socket
import subprocess
import sys

import procs

HERE = os.path.dirname(os.path.abspath(__file__))


def log(message):
    print(f"peers: {message}", file=sys.stderr, flush=True)


def free_port():
    """A loopback port nobody holds now (the kernel's pick, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_answers(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Workspace:
    def __init__(self, root=None):
        self.root = root or f"/tmp/reins-peers-{os.getpid()}"
        os.makedirs(self.root, exist_ok=True)
        self.child = os.path.join(self.root, "child")
        self.remembered = {}  # pid -> start time
        self.log_files = []
        self.serial = 0

    def build_child(self):
        src = os.path.join(HERE, "child.c")
        for extra in (["-static"], []):  # static when libc.a is there: a shorter exec
            r = subprocess.run(["cc", "-O2", *extra, "-o", self.child, src], capture_output=True, text=True)
            if r.returncode == 0:
                return
        raise RuntimeError(f"cannot compile the test child: {r.stderr.strip()}")

    def folder(self, name):
        """A fresh folder for one peer and one figure."""
        self.serial += 1
        path = os.path.join(self.root, f"{self.serial:02d}-{name}")
        os.makedirs(path)
        return path

    def child_log(self, folder, name):
        path = os.path.join(folder, f"{name}.log")
        self.log_files.append(path)
        return path

    def remember(self, pid):
        start = procs.start_time(pid)
        if start is not None:
            self.remembered[pid] = start

    def remember_tree(self, root):
        for pid in procs.tree(root):
            self.remember(pid)

    def kill_services(self):
        """SIGKILL every service process (and grandchild) a child log names."""
        for path in self.log_files:
            for line in read_lines(path):
                parts = line.split()
                pid = int(parts[-1]) if parts[0] in ("exec", "grandchild") else 0
                if pid and procs.exe(pid) == self.child:
                    try:
                        os.kill(pid, 9)
                    except OSError:
                        pass

    def kill_remembered(self):
        for pid, start in list(self.remembered.items()):
            procs.kill(pid, start)
        self.remembered.clear()

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)


def read_lines(path):
    try:
        with open(path) as f:
            return [line for line in f.read().splitlines() if line.strip()]
    except OSError:
        return []


def events(path, kind):
    """[(ns, pid)] of the child log's `kind` lines (exec, exit), in order."""
    out = []
    for line in read_lines(path):
        parts = line.split()
        if parts[0] == kind and len(parts) == 3:
            out.append((int(parts[1]), int(parts[2])))
    return out


def grandchildren(path):
    return [int(line.split()[1]) for line in read_lines(path) if line.startswith("grandchild ")]
