"""What every supervisor adapter provides; the figures only talk to this.

An adapter writes its supervisor's configuration into its own folder,
starts the supervisor there (in the foreground, or as its own daemon with a
private state directory), and drives it with the supervisor's own commands.
Each service is the test child; the figures choose its options.
"""

import os
import shutil
import signal
import subprocess

import procs


class Peer:
    name = ""
    multi = True        # many services under one supervisor
    restarts = True     # restarts a service that exited
    has_status = True   # has a status command

    def __init__(self, ws, folder):
        self.ws = ws
        self.dir = folder
        self.sup_pid = None
        self.popen = None  # the supervisor, when it runs as our child
        self.env = None    # environment of every command (None: ours)

    # --- what a subclass defines -------------------------------------------
    @classmethod
    def missing(cls):
        """None when the supervisor is installed, else why it is skipped."""
        return None

    @classmethod
    def version(cls):
        return "?"

    def define(self, name, argv, autostart=True, stop_timeout_ms=1000):
        """Declare a service that restarts whenever it exits, at once if the
        supervisor lets us choose (before boot)."""
        raise NotImplementedError

    def boot(self):
        """Start the supervisor; return once it takes commands."""
        raise NotImplementedError

    def start(self, name):
        """Issue the start command of a declared, stopped service without
        waiting for it; returns its Popen (None: nothing left to wait for)."""
        raise NotImplementedError

    def stop(self, name):
        """The supervisor's stop command for one service; returns when it does."""
        raise NotImplementedError

    def status_cmd(self, name):
        return None

    def stop_down(self):
        """Bring the supervisor and its services down with its own commands."""
        if self.popen:
            self.popen.terminate()

    @classmethod
    def note(cls):
        """One line: how it is configured and driven."""
        return ""

    # --- shared -------------------------------------------------------------
    def own_pids(self):
        """The supervisor's own processes: its tree, minus the services."""
        if not self.sup_pid or not procs.alive(self.sup_pid):
            return []
        return procs.tree(self.sup_pid, skip_exe=self.ws.child)

    def launch(self, argv, log_name):
        """Starts a process that stays (a supervisor) as our child."""
        with open(os.path.join(self.dir, log_name), "ab") as out:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=self.env,
                                 cwd=self.dir)
        self.ws.remember(p.pid)
        return p

    def command(self, argv):
        """Starts a control command, output discarded; the caller waits for it."""
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=self.env, cwd=self.dir)

    def run(self, argv, timeout=60):
        """Runs a control command to its end; its exit status (None: timed out)."""
        p = self.command(argv)
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return None

    def shutdown(self):
        """Stop everything: the supervisor's own way first, then by pid."""
        if self.sup_pid:
            self.ws.remember_tree(self.sup_pid)
        try:
            self.stop_down()
        finally:
            if self.sup_pid:
                procs.wait_until(lambda: not procs.alive(self.sup_pid), 15)
            if self.popen:
                if self.popen.poll() is None:
                    self.popen.send_signal(signal.SIGKILL)
                self.popen.wait()
            self.ws.kill_services()
            self.ws.kill_remembered()


def which(program):
    return shutil.which(program)


def dpkg_version(package):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
    return r.stdout.strip() or "?"


def sh_script(path, body):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(path, 0o755)
