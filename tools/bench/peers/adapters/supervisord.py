"""supervisord: in the foreground (nodaemon) with a private configuration,
socket and logs, driven with supervisorctl.

Restart at once: `autorestart=true`, `startsecs=0` (an exit is never a failed
start, so no BACKOFF state). `stopwaitsecs` is whole seconds. Stop signals go
to the main process only (`stopasgroup`/`killasgroup` keep their default,
false: supervisord's own behaviour).
"""

import os
import shlex
import subprocess

import procs
from adapters.base import Peer, which


class Supervisord(Peer):
    name = "supervisord"

    @classmethod
    def missing(cls):
        if which("supervisord") and which("supervisorctl"):
            return None
        return "supervisord not installed (apt-get install supervisor)"

    @classmethod
    def version(cls):
        r = subprocess.run(["supervisord", "--version"], capture_output=True, text=True)
        return "supervisord " + r.stdout.strip()

    def __init__(self, ws, folder):
        super().__init__(ws, folder)
        self.conf = os.path.join(folder, "supervisord.conf")
        os.makedirs(os.path.join(folder, "logs"))
        with open(self.conf, "w") as f:
            f.write(f"""[unix_http_server]
file={folder}/supervisor.sock

[supervisord]
nodaemon=true
logfile={folder}/supervisord.log
pidfile={folder}/supervisord.pid
childlogdir={folder}/logs

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{folder}/supervisor.sock
""")

    def define(self, name, argv, autostart=True, stop_timeout_ms=1000):
        with open(self.conf, "a") as f:
            f.write(f"""
[program:{name}]
command={shlex.join(argv)}
autostart={"true" if autostart else "false"}
autorestart=true
startsecs=0
stopsignal=TERM
stopwaitsecs={max(1, (stop_timeout_ms + 999) // 1000)}
redirect_stderr=true
stdout_logfile={self.dir}/logs/{name}.log
""")

    def ctl(self, *args):
        return ["supervisorctl", "-c", self.conf, *args]

    def boot(self):
        self.popen = self.launch(["supervisord", "-c", self.conf], "supervisord.out")
        self.sup_pid = self.popen.pid
        if not procs.wait_until(lambda: self.run(self.ctl("pid")) == 0, 60, step=0.1):
            raise RuntimeError("supervisord does not answer on its socket")

    def start(self, name):
        return self.command(self.ctl("start", name))

    def stop(self, name):
        return self.run(self.ctl("stop", name))

    def status_cmd(self, name):
        return self.ctl("status", name)

    def stop_down(self):
        if self.popen and self.popen.poll() is None:
            self.popen.terminate()  # stops every program, then exits

    @classmethod
    def note(cls):
        return ("`supervisord -c CONF` (nodaemon); `autorestart=true startsecs=0 stopwaitsecs=1`, "
                "stopasgroup/killasgroup false (default); start/stop/status with `supervisorctl`")
