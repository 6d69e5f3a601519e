"""PM2 (npm), when installed: /opt/pm2/node_modules/.bin/pm2 or `pm2` on
PATH. Its "God" daemon always daemonizes; it gets a private PM2_HOME in the
folder (without one, even `pm2 --version` starts a daemon in ~/.pm2) and is
stopped with `pm2 kill`, then by pid.

Apps run the binary directly (`interpreter: none`, fork mode). Restart at
once and never give up: `restart_delay: 0`, `max_restarts: 1000000`;
`kill_timeout` is the stop's grace (PM2 stops with SIGINT and kills the
descendants it finds).
"""

import json
import os

import procs
from adapters.base import Peer, which


def pm2_binary():
    for path in ("/opt/pm2/node_modules/.bin/pm2", which("pm2")):
        if path and os.access(path, os.X_OK):
            return path
    return None


class Pm2(Peer):
    name = "pm2"

    @classmethod
    def missing(cls):
        if not pm2_binary():
            return "pm2 not installed (npm install --prefix /opt/pm2 pm2)"
        return None if which("node") else "node not installed"

    @classmethod
    def version(cls):
        package = os.path.join(os.path.dirname(os.path.realpath(pm2_binary())), "..", "package.json")
        try:
            with open(package) as f:
                return "pm2 " + json.load(f)["version"]
        except (OSError, ValueError, KeyError):
            return "pm2 ?"

    def __init__(self, ws, folder):
        super().__init__(ws, folder)
        self.bin = pm2_binary()
        self.env = dict(os.environ, PM2_HOME=os.path.join(folder, "pm2home"))
        self.apps = {}

    def define(self, name, argv, autostart=True, stop_timeout_ms=1000):
        app = {"name": name, "script": argv[0], "args": argv[1:], "interpreter": "none", "exec_mode": "fork",
               "cwd": self.dir, "autorestart": True, "restart_delay": 0, "max_restarts": 1000000,
               "kill_timeout": stop_timeout_ms, "out_file": f"{self.dir}/{name}.out",
               "error_file": f"{self.dir}/{name}.err"}
        self.apps[name] = (app, autostart)
        self.write_ecosystem(name, [app])

    def write_ecosystem(self, name, apps):
        path = os.path.join(self.dir, f"eco-{name}.json")
        with open(path, "w") as f:
            json.dump({"apps": apps}, f)
        return path

    def boot(self):
        if self.run([self.bin, "ping"]) != 0:
            raise RuntimeError("pm2 ping failed")
        with open(os.path.join(self.env["PM2_HOME"], "pm2.pid")) as f:
            self.sup_pid = int(f.read().strip())
        self.ws.remember(self.sup_pid)
        boot = [app for app, autostart in self.apps.values() if autostart]
        if boot and self.run([self.bin, "start", self.write_ecosystem("_boot", boot)], timeout=300) != 0:
            raise RuntimeError("pm2 start failed")

    def start(self, name):
        return self.command([self.bin, "start", os.path.join(self.dir, f"eco-{name}.json")])

    def stop(self, name):
        return self.run([self.bin, "stop", name])

    def status_cmd(self, name):
        return [self.bin, "pid", name]

    def stop_down(self):
        if self.sup_pid and procs.alive(self.sup_pid):
            self.run([self.bin, "kill"], timeout=30)

    @classmethod
    def note(cls):
        return ("PM2 God daemon with a private `PM2_HOME`; apps `interpreter: none`, fork mode, "
                "`restart_delay 0`, `max_restarts 1e6`, `kill_timeout 1000`; `pm2 start/stop/pid`")
