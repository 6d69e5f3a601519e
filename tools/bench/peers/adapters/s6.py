"""s6 (skarnet): s6-svscan in the foreground on a private scan directory,
one s6-supervise per service, driven with s6-svc.

Service directory: `run` (`#!/bin/sh` exec of the command), `down` when it
does not start at boot, `timeout-kill` (the stop's grace before SIGKILL, ms)
and `notification-fd` 3: the child writes its readiness there, which spares
it s6-supervise's one-second pause before a restart (that pause is skipped
only for a service that was ready more than a second before it died).
"""

import os
import shlex

import procs
from adapters.base import Peer, dpkg_version, sh_script, which


class S6(Peer):
    name = "s6"

    @classmethod
    def missing(cls):
        return None if which("s6-svscan") and which("s6-svc") else "s6-svscan not installed (apt-get install s6)"

    @classmethod
    def version(cls):
        return "s6 " + dpkg_version("s6")

    def __init__(self, ws, folder):
        super().__init__(ws, folder)
        self.scan = os.path.join(folder, "scan")
        os.makedirs(self.scan)

    def service(self, name):
        return os.path.join(self.scan, name)

    @property
    def names(self):
        return [n for n in os.listdir(self.scan) if not n.startswith(".")]  # s6-svscan keeps .s6-svscan/

    def define(self, name, argv, autostart=True, stop_timeout_ms=1000):
        d = self.service(name)
        os.makedirs(d)
        sh_script(os.path.join(d, "run"), "exec " + shlex.join([*argv, "--notify-fd", "3"]))
        with open(os.path.join(d, "notification-fd"), "w") as f:
            f.write("3\n")
        with open(os.path.join(d, "timeout-kill"), "w") as f:
            f.write(f"{stop_timeout_ms}\n")
        if not autostart:
            open(os.path.join(d, "down"), "w").close()

    def boot(self):
        self.popen = self.launch(["s6-svscan", self.scan], "s6-svscan.log")
        self.sup_pid = self.popen.pid
        for name in self.names:
            ok = procs.wait_until(lambda: self.run(["s6-svok", self.service(name)]) == 0, 60)
            if not ok:
                raise RuntimeError(f"s6-supervise of {name} did not come up")

    def start(self, name):
        return self.command(["s6-svc", "-wu", "-T", "30000", "-u", self.service(name)])

    def stop(self, name):
        return self.run(["s6-svc", "-wD", "-T", "30000", "-d", self.service(name)])

    def status_cmd(self, name):
        return ["s6-svstat", self.service(name)]

    def stop_down(self):
        # SIGTERM to s6-svscan: it brings every service down (timeout-kill
        # applies) and makes each s6-supervise exit, then exits itself.
        if self.popen and self.popen.poll() is None:
            self.run(["s6-svscanctl", "-t", self.scan], timeout=10)

    @classmethod
    def note(cls):
        return ("`s6-svscan DIR` (foreground); service dir: `run` = `#!/bin/sh` exec of the child, "
                "`notification-fd` 3, `timeout-kill` 1000; start `s6-svc -wu -u`, stop `s6-svc -wD -d`, "
                "status `s6-svstat`")
