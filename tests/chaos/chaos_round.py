"""A chaos round: what it found wrong, the services it runs and the check
that it left nothing behind. Needs tests/integration/cli on sys.path (chaos.py
puts it there) for the integration harness."""
import os
import sys
import time

import reins_harness as h
from reins_harness import FIXTURE, alive, ours, port_free, reins, rss_kib, supervisor_pid, toml_cmd, wait_for, write

PY = sys.executable  # the Python of the scripts the services run


class Round:
    """What one round found wrong."""

    def __init__(self):
        self.problems = []
        self.samples = []  # (daemon RSS KiB, seconds a `reins status` took)

    def expect(self, cond, what):
        if not cond:
            self.problems.append(what)
        return cond

    def sample(self, d):
        """The daemon's RSS and how long a `reins status` takes, after the fault."""
        sup = supervisor_pid(state_dir(d))
        if not sup or not alive(sup):
            return
        rss = rss_kib(sup)
        t0 = time.monotonic()
        reins(["status"], d, timeout=30)
        self.samples.append((rss, time.monotonic() - t0))


def state_dir(d):
    return os.path.join(d, ".reins")


def fixture_config(d, grandchild=True):
    """Two services: `web` (auto port, tcp-ready, a setsid'd grandchild holding
    a second port) and `worker` (no socket). Their pids are recorded."""
    web = [FIXTURE, "--port", "${PORT}", "--record", os.path.join(d, "record-web")]
    if grandchild:
        web += ["--grandchild", "--grandchild-mode", "setsid"]
    worker = [FIXTURE, "--no-listen", "--record", os.path.join(d, "record-worker")]
    write(d, "reins.toml", f'''version = 1
[service.web]
command = {toml_cmd(web)}
port = "auto"
ready = {{ tcp = true }}
stop = {{ timeout = "2s" }}

[service.worker]
command = {toml_cmd(worker)}
stop = {{ timeout = "2s" }}
''')


def recorded_ports(d):
    """Ports the web fixture and its grandchild listened on (from the record)."""
    ports = []
    for line in (h.read(os.path.join(d, "record-web"), "") or "").splitlines():
        for word in line.split():
            if word.startswith("port="):
                ports.append(int(word[5:]))
    return ports


def nothing_left(r, d, ports=()):
    """After reins' own stop: no process of the round, its ports free."""
    wait_for(lambda: not ours(d), 3)
    left = ours(d)
    r.expect(not left, f"left behind: {[(p, ' '.join(h.cmdline(p))[:80]) for p in left]}")
    for p in ports:
        r.expect(wait_for(lambda: port_free(p), 3), f"port {p} still bound")
    return left
