"""runit: runsvdir in the foreground on a private service directory, one
runsv per service, driven with `sv`.

Service directory: `run` (`#!/bin/sh` exec of the command) and `down` when
it does not start at boot. runit has no knob for the restart delay (runsv
waits a second when `run` lived less than one) nor a stop timeout in the
service: the grace lives in the command, `sv -w SECONDS force-stop` (TERM
and CONT, then KILL), in whole seconds.
"""

import os
import shlex

import procs
from adapters.base import Peer, dpkg_version, sh_script, which


class Runit(Peer):
    name = "runit"

    @classmethod
    def missing(cls):
        return None if which("runsvdir") and which("sv") else "runsvdir not installed (apt-get install runit)"

    @classmethod
    def version(cls):
        return "runit " + dpkg_version("runit")

    def __init__(self, ws, folder):
        super().__init__(ws, folder)
        self.services = os.path.join(folder, "service")
        os.makedirs(self.services)
        self.stop_seconds = 1

    def service(self, name):
        return os.path.join(self.services, name)

    @property
    def names(self):
        return [n for n in os.listdir(self.services) if not n.startswith(".")]

    def define(self, name, argv, autostart=True, stop_timeout_ms=1000):
        d = self.service(name)
        os.makedirs(d)
        sh_script(os.path.join(d, "run"), "exec " + shlex.join(argv))
        if not autostart:
            open(os.path.join(d, "down"), "w").close()
        self.stop_seconds = max(1, (stop_timeout_ms + 999) // 1000)

    def ready(self):
        # runsv makes supervise/ok once it takes commands
        return all(os.path.exists(os.path.join(self.service(n), "supervise", "ok")) for n in self.names)

    def boot(self):
        self.popen = self.launch(["runsvdir", "-P", self.services], "runsvdir.log")
        self.sup_pid = self.popen.pid
        if not procs.wait_until(self.ready, 60):
            raise RuntimeError("runsv did not come up for every service")

    def start(self, name):
        return self.command(["sv", "up", self.service(name)])

    def stop(self, name):
        return self.run(["sv", "-w", str(self.stop_seconds), "force-stop", self.service(name)])

    def status_cmd(self, name):
        return ["sv", "status", self.service(name)]

    def stop_down(self):
        dirs = [self.service(n) for n in self.names]
        if self.popen and self.popen.poll() is None and dirs:
            self.run(["sv", "-w", str(self.stop_seconds), "force-stop", *dirs], timeout=30)
            self.run(["sv", "-w", "5", "exit", *dirs], timeout=30)
        if self.popen and self.popen.poll() is None:
            self.popen.send_signal(1)  # SIGHUP: runsvdir signals every runsv, then exits

    @classmethod
    def note(cls):
        return ("`runsvdir -P DIR` (foreground); service dir: `run` = `#!/bin/sh` exec of the child; "
                "start `sv up`, stop `sv -w 1 force-stop`, status `sv status`")
