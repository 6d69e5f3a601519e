"""reins: every service in one reins.toml in the folder, reins' own daemon
(`reins start`) with a private state directory, driven with `reins start
NAME`, `reins stop NAME` and `reins status NAME`.

Restart at once and never give up: `restart.policy = "always"`, backoff 0
without jitter, `max` 1 000 000 per second. Its own processes are the
daemon and its keeper (the child that kills the services if the daemon
dies), both found as the daemon's process tree minus the services.
"""

import json
import os
import subprocess

from adapters.base import Peer

BINARY = None  # set by main from --reins


class Reins(Peer):
    name = "reins"

    @classmethod
    def missing(cls):
        if BINARY and os.access(BINARY, os.X_OK):
            return None
        return f"no reins binary at {BINARY} (build it: tools/dev bench peers, or --reins PATH)"

    @classmethod
    def version(cls):
        r = subprocess.run([BINARY, "--version"], capture_output=True, text=True)
        return (r.stdout.strip().splitlines() or ["reins ?"])[0]

    def __init__(self, ws, folder):
        super().__init__(ws, folder)
        self.config = os.path.join(folder, "reins.toml")
        self.state = os.path.join(folder, "state")
        self.autostart = []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("REINS_")}
        with open(self.config, "w") as f:
            f.write("version = 1\n")

    def define(self, name, argv, autostart=True, stop_timeout_ms=1000):
        with open(self.config, "a") as f:
            f.write(f"""
[service.{name}]
command = {json.dumps(argv)}
restart = {{ policy = "always", max = 1000000, window = "1s", backoff = {{ initial = "0", max = "0", jitter = 0 }} }}
stop.timeout = "{stop_timeout_ms}ms"
""")
        if autostart:
            self.autostart.append(name)

    def cli(self, verb, *args):
        return [BINARY, verb, "-c", self.config, "--state-dir", self.state, *args]

    def boot(self):
        if not self.autostart:
            # the daemon starts with a service: an idle one when none starts at boot
            self.define("boot-idle", [self.ws.child])
        with open(os.path.join(self.dir, "reins-start.log"), "wb") as out:
            r = subprocess.run(self.cli("start", *self.autostart), stdin=subprocess.DEVNULL, stdout=out,
                               stderr=out, env=self.env, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"reins start exited {r.returncode} (see {self.dir}/reins-start.log)")
        self.find_daemon()

    def find_daemon(self):
        # read again before use: a `reins start` after the daemon left starts a new one
        try:
            with open(os.path.join(self.state, "reins.pid")) as f:
                self.sup_pid = int(f.read().strip())
        except (OSError, ValueError):
            return
        self.ws.remember(self.sup_pid)

    def own_pids(self):
        self.find_daemon()
        return super().own_pids()

    def start(self, name):
        return self.command(self.cli("start", name))

    def stop(self, name):
        return self.run(self.cli("stop", name))

    def status_cmd(self, name):
        return self.cli("status", name)

    def stop_down(self):
        if self.sup_pid:
            self.run(self.cli("stop"), timeout=60)  # every service, then the daemon

    @classmethod
    def note(cls):
        return ("`reins start` (its daemon, private `--state-dir`); `restart = { policy = \"always\", "
                "max = 1000000, window = \"1s\", backoff = { initial = \"0\", max = \"0\", jitter = 0 } }`, "
                "`stop.timeout = \"1000ms\"`; `reins start/stop/status NAME`")
