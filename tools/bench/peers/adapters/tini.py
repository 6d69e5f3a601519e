"""tini: an init for one child, not a supervisor. One service per tini, no
restart, no status command; its "start" is launching `tini -s -g -- CMD`
(-s: subreaper, as it is not PID 1 here; -g: signals go to the child's
process group), its "stop" what `docker stop -t 1` does: SIGTERM to tini,
SIGKILL after the grace.
"""

import signal
import subprocess
import time

from adapters.base import Peer, which


class Tini(Peer):
    name = "tini"
    multi = False
    restarts = False
    has_status = False

    @classmethod
    def missing(cls):
        return None if which("tini") else "tini not installed (apt-get install tini)"

    @classmethod
    def version(cls):
        r = subprocess.run(["tini", "--version"], capture_output=True, text=True)
        return r.stdout.strip().splitlines()[0] if r.stdout.strip() else "tini ?"

    def __init__(self, ws, folder):
        super().__init__(ws, folder)
        self.argv = None
        self.autostart = False
        self.stop_timeout = 1.0

    def define(self, name, argv, autostart=True, stop_timeout_ms=1000):
        if self.argv is not None:
            raise RuntimeError("tini runs one child")
        self.argv, self.autostart, self.stop_timeout = argv, autostart, stop_timeout_ms / 1000

    def boot(self):
        if self.autostart:
            self.start(None)

    def start(self, name):
        self.popen = self.launch(["tini", "-s", "-g", "--", *self.argv], "tini.log")
        self.sup_pid = self.popen.pid
        return None  # tini is the service's supervisor: nothing to wait for

    def stop(self, name):
        if not self.popen:
            return 1
        self.popen.send_signal(signal.SIGTERM)
        until = time.monotonic() + self.stop_timeout
        while self.popen.poll() is None and time.monotonic() < until:
            time.sleep(0.002)
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        return self.popen.wait()

    def stop_down(self):
        if self.popen and self.popen.poll() is None:
            self.stop(None)

    @classmethod
    def note(cls):
        return ("`tini -s -g -- CHILD` per service; stop as `docker stop -t 1`: SIGTERM to tini, "
                "SIGKILL after 1 s")
