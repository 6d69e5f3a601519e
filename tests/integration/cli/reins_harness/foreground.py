"""Processes in the foreground (`reins run`, a blocking `reins start`) with
their output captured, and the ready lines reins prints."""
import os
import re
import signal
import subprocess
import threading

from .checks import sanitizer_clean
from .cleanup import running_test
from .command import REINS, env_for
from .processes import wait_for


class Fg:
    """A process (usually `reins run`) whose stdout and stderr are collected
    line by line by two threads; it runs in its own process group."""

    def __init__(self, argv, cwd, env=None):
        self.p = subprocess.Popen(argv, cwd=cwd, env=env_for(env), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        running_test["popens"].append(self.p)
        self.out, self.err = [], []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._pump, args=(self.p.stdout, self.out), daemon=True),
                        threading.Thread(target=self._pump, args=(self.p.stderr, self.err), daemon=True)]
        for t in self.threads:
            t.start()

    def _pump(self, f, into):
        for line in iter(f.readline, b""):
            with self.lock:
                into.append(line.decode(errors="replace").rstrip("\n"))
        f.close()

    @property
    def pid(self):
        return self.p.pid

    def stdout_text(self):
        with self.lock:
            return "\n".join(self.out)

    def stderr_text(self):
        with self.lock:
            return "\n".join(self.err)

    def wait_line(self, pattern, timeout=30, stream="err", count=1):
        """The `count`-th match of regex `pattern` on stream err/out, or None."""
        rx = re.compile(pattern)
        lines = self.err if stream == "err" else self.out

        def found():
            with self.lock:
                ms = [m for m in (rx.search(l) for l in lines) if m]
            return ms[count - 1] if len(ms) >= count else None

        return wait_for(found, timeout, 0.02)

    def signal(self, sig):
        try:
            os.kill(self.p.pid, sig)
        except OSError:
            pass

    def wait(self, timeout):
        """Exit status, or None (then it is killed) when it did not end in time."""
        try:
            code = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except OSError:
                pass
            self.p.wait(timeout=10)
            code = None
        for t in self.threads:
            t.join(timeout=5)
        sanitizer_clean(self.stderr_text(), " ".join(self.p.args))
        return code


def run_fg(args, cwd, env=None):
    return Fg([REINS] + args, cwd, env)


# A readiness check passed: "reins: web ready on http://127.0.0.1:5173 (pid 4242, 0.84s)".
READY_RX = r"reins: (\S+) ready(?: on http://127\.0\.0\.1:(\d+))? \(pid (\d+), [0-9.]+s\)"
# No readiness check, only spawned: "reins: web started on port 5173 (pid 4242)"; same groups.
STARTED_RX = r"reins: (\S+) started(?: on port (\d+))? \(pid (\d+)\)"


def ready_lines(text):
    """{name: (port or None, pid)} from the ready lines (and the started
    lines of services without a readiness check) of `text`."""
    res = {}
    for rx in (READY_RX, STARTED_RX):
        for m in re.finditer(rx, text):
            res[m.group(1)] = (int(m.group(2)) if m.group(2) else None, int(m.group(3)))
    return res
