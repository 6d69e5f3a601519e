"""A daemon's state dir, and starting a daemon that must come up."""
import json
import os

from .checks import check
from .cleanup import track
from .command import FIXTURE, reins, show
from .files import read, toml_cmd, write
from .foreground import ready_lines


def state_json(state_dir):
    try:
        return json.loads(read(os.path.join(state_dir, "state.json"), ""))
    except ValueError:
        return None


def status_json(d, names=(), extra=()):
    r = reins(["status", "--json", *extra, *names], d, timeout=30)
    try:
        return r, json.loads(r.stdout)
    except ValueError:
        return r, None


def service(doc, name):
    for s in (doc or {}).get("services", []):
        if s.get("name") == name:
            return s
    return None


def supervisor_pid(state_dir):
    try:
        return int((read(os.path.join(state_dir, "reins.pid"), "") or "").strip())
    except ValueError:
        return None


# ---- a daemon with one fixture service ------------------------------------------------

def api_config(d, extra_args=(), extra_toml=""):
    """reins.toml with one fixture service `api` (auto port, http readiness)
    that records its starts in d/record-api."""
    cmd = [FIXTURE, "--port", "${PORT}", "--record", os.path.join(d, "record-api"), *extra_args]
    write(d, "reins.toml", f'''version = 1
[service.api]
command = {toml_cmd(cmd)}
port = "auto"
ready = {{ http = "/ready" }}
{extra_toml}''')


def starts_recorded(d, name="api"):
    return (read(os.path.join(d, f"record-{name}"), "") or "").count("start pid=")


def start_ok(d, args=(), what="start"):
    """`reins start ARGS` that must succeed: {name: (port, pid)} of its ready lines."""
    r = reins(["start", *args], d, timeout=60)
    check(r.returncode == 0, f"{what}: exit 0: {show(r)}")
    ready = ready_lines(r.stderr)
    for port, pid in ready.values():
        track(pid)
    sup = supervisor_pid(os.path.join(d, ".reins"))
    if sup:
        track(sup)
    return r, ready
