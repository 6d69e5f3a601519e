"""The desktop sidecar example (examples/desktop-sidecar) through the real
program: a host on reins' SupervisorThread that keeps backend.py running.

    python3 desktop_sidecar_test.py PATH/TO/reins PATH/TO/reins-example-desktop-sidecar [TEST...]

(reins only for the shared cleanup: `reins stop --state-dir` on what a test
left.) Every process is cleaned up by pid after each test, pass or fail.
"""
import http.client
import json
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
import reins_harness as h  # noqa: E402
from reins_harness import check, track, alive, wait_gone, port_free  # noqa: E402

SIDECAR = h.FIXTURE  # the second argument: the example's executable
READY_RX = r"sidecar: api ready on port (\d+) \(pid (\d+)\)"


def request(method, port, path, timeout=5):
    """(status, parsed JSON body or None) of one request to the backend; (None, None) when it fails."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request(method, path)
        r = c.getresponse()
        body = r.read()
        c.close()
        try:
            return r.status, json.loads(body)
        except ValueError:
            return r.status, None
    except OSError:
        return None, None


def checkpoints(path, pid):
    """The checkpoint lines backend `pid` wrote."""
    return [l for l in (h.read(path, "") or "").splitlines() if f"pid={pid} " in l]


def start_sidecar(d):
    state = os.path.join(d, "state")
    cp = os.path.join(d, "checkpoints")
    fg = h.Fg([SIDECAR, "--state-dir", state], d, env={"CHECKPOINT_FILE": cp})
    track(fg.pid)
    m = fg.wait_line(READY_RX, 30, stream="out")
    if not check(m, f"the sidecar says 'api ready on port N': out={fg.stdout_text()!r} err={fg.stderr_text()!r}"):
        return fg, state, cp, 0, 0
    port, pid = int(m.group(1)), int(m.group(2))
    track(pid)
    return fg, state, cp, port, pid


def test_once(d):
    cp = os.path.join(d, "checkpoints")
    r = subprocess.run([SIDECAR, "--state-dir", os.path.join(d, "state"), "--once"], cwd=d,
                       env=h.env_for({"CHECKPOINT_FILE": cp}), capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    check(r.returncode == 0, f"--once: exit 0: {h.show(r)}")
    m = re.search(READY_RX, r.stdout)
    if not check(m, f"--once prints the port: {r.stdout!r}"):
        return
    port, pid = int(m.group(1)), int(m.group(2))
    check(not alive(pid), f"the backend (pid {pid}) is gone once --once returned")
    check(port_free(port), f"port {port} is free again")
    check(len(checkpoints(cp, pid)) == 1, f"the stop pipeline asked backend {pid} for a checkpoint: {h.read(cp)!r}")


def test_single_instance_health_restart_and_stop(d):
    fg, state, cp, port, pid = start_sidecar(d)
    if not port:
        return
    status, body = request("GET", port, "/")
    check(status == 200 and body and body.get("pid") == pid and body.get("port") == port,
          f"the backend answers on port {port} as pid {pid}: {status} {body}")

    # A second copy on the same state dir: refused, naming the first.
    r = subprocess.run([SIDECAR, "--state-dir", state], cwd=d, env=h.env_for(), capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    check(r.returncode != 0, f"a second copy exits non-zero: {h.show(r)}")
    check(f"pid {fg.pid}" in r.stdout, f"it names the first copy's pid {fg.pid}: {h.show(r)}")
    check(f"port {port}" in r.stdout, f"and its backend's port {port}: {h.show(r)}")
    check(request("GET", port, "/")[0] == 200 and alive(pid), "the first copy's backend is untouched")

    # Hung: /health stops answering → 3 failed probes → restarted, ready again.
    check(request("POST", port, "/admin/hang")[0] == 200, "POST /admin/hang answered")
    m = fg.wait_line(r"sidecar: api: \w+ -> restarting", 40, stream="out")
    check(m, f"a restart shows up: {fg.stdout_text()!r}")
    m = fg.wait_line(READY_RX, 40, stream="out", count=2)
    if not check(m, f"ready again after the restart: {fg.stdout_text()!r}"):
        return
    port2, pid2 = int(m.group(1)), int(m.group(2))
    track(pid2)
    check(pid2 != pid and wait_gone(pid, 10), f"a new backend ({pid2}) replaced the hung one ({pid})")
    check(request("GET", port2, "/health")[0] == 200, f"the new backend is healthy on port {port2}")

    # SIGTERM to the sidecar: checkpoint, shutdown request, and it exits 0.
    check(not checkpoints(cp, pid2), "no checkpoint of the new backend yet")
    fg.signal(signal.SIGTERM)
    code = fg.wait(30)
    check(code == 0, f"the sidecar exits 0 on SIGTERM, got {code}: out={fg.stdout_text()!r} err={fg.stderr_text()!r}")
    check(len(checkpoints(cp, pid2)) == 1, f"the stop pipeline asked backend {pid2} for a checkpoint: {h.read(cp)!r}")
    check(wait_gone(pid2, 5), f"the backend (pid {pid2}) is gone")
    check(port_free(port2), f"port {port2} is free again")


if __name__ == "__main__":
    h.main(globals())
