#!/usr/bin/env python3
"""Service states as a client of the real `reins` binary sees them.

Usage: states_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
The transitions on GET /v1/events are the state diagram's edges (docs/engine.md);
a restart passes through `stopped`; restarts keep the service's port (sticky
ports) and a stopped service shows none; a dependency on "started" waits for
the spawn only.
"""
import json
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import (FIXTURE, EventStream, api_config, check, main, read, reins, service, show, start_ok,
                           status_json, toml_cmd, track, wait_for, write)

# The state diagram's edges, plus a stop while starting or during the restart
# backoff, and a start that can never spawn (port in use) failing at once.
EDGES = {("stopped", "starting"), ("starting", "running"), ("running", "stopping"), ("stopping", "stopped"),
         ("starting", "restarting"), ("running", "restarting"), ("restarting", "starting"),
         ("restarting", "failed"), ("failed", "starting"),
         ("starting", "stopping"), ("restarting", "stopped"), ("starting", "failed")}


def test_restart_passes_through_stopped_and_keeps_the_port(d):
    api_config(d)
    _, ready = start_ok(d)
    if not check("api" in ready, "api started"):
        return
    port = ready["api"][0]
    ev = EventStream(d)
    check(ev.started(), "the events stream starts")
    try:
        r = reins(["restart", "api"], d, timeout=60)
        check(r.returncode == 0, f"restart api: {show(r)}")
        _, doc = status_json(d)
        s = service(doc, "api")
        if s:
            track(s["pid"])
        check(s and s["port"] == port, f"`reins restart` keeps port {port}: {s}")
        want = [("running", "stopping"), ("stopping", "stopped"), ("stopped", "starting"), ("starting", "running")]
        check(wait_for(lambda: ev.transitions("api") == want, 10), f"restart edges {want}: {ev.transitions('api')}")
    finally:
        ev.close()
    r = reins(["stop", "api"], d, timeout=60)
    check(r.returncode == 0, f"stop api: {show(r)}")
    # The daemon may have left with its last service; state.json then tells.
    state = json.loads(read(os.path.join(d, ".reins", "state.json"), "{}") or "{}")
    for s in state.get("services", []):
        if s.get("name") == "api":
            check(not s.get("port"), f"a stopped service shows no port: {s}")


def test_a_crash_restarts_on_the_same_port(d):
    api_config(d, ["--crash-after", "700ms", "--exit-code", "3"],
               extra_toml='restart = { backoff = { initial = "50ms" } }\n')
    _, ready = start_ok(d)
    if not check("api" in ready, "api started"):
        return
    port = ready["api"][0]
    ev = EventStream(d)
    check(ev.started(), "the events stream starts")

    def restarted():
        _, doc = status_json(d)
        s = service(doc, "api")
        return s if s and s.get("restarts", 0) >= 1 and s.get("state") == "running" else None

    try:
        check(wait_for(lambda: restarted() is not None, 15), "api crashed and runs again")
        s = restarted()
        if s:
            track(s["pid"])
            check(s["port"] == port, f"the restart after a crash keeps port {port}: {s}")
        # The restarting event says as fields which restart, after what
        # backoff (50 ms ± the default 10 % jitter), and the failures counted.
        check(wait_for(lambda: [e for e in ev.events() if e.get("to") == "restarting"], 10), "a restarting event")
        rs = [e for e in ev.events() if e.get("service") == "api" and e.get("to") == "restarting"]
        if check(rs, f"api's restarting event: {ev.events()}"):
            e = rs[0]
            check(e.get("attempt") == 1 and e.get("failures") == 1, f"restart 1, one failure counted: {e}")
            check(isinstance(e.get("delay_ms"), int) and 40 <= e["delay_ms"] <= 60, f"backoff ~50 ms: {e}")
            check(e.get("port") == port and e.get("status_text") == "exit 3", f"port {port}, why it ended: {e}")
        after = [e for e in ev.events() if e.get("service") == "api" and e.get("from") == "restarting"
                 and e.get("to") == "starting"]
        check(after and after[0].get("attempt") == 1, f"the start after the backoff is restart 1: {after}")
    finally:
        ev.close()


def test_every_transition_is_an_edge_of_the_diagram(d):
    job = [FIXTURE, "--no-listen", "--crash-after", "100ms"]
    keep = [FIXTURE, "--no-listen"]
    write(d, "reins.toml", f'''version = 1
[service.keep]
command = {toml_cmd(keep)}

[service.job]
command = {toml_cmd(job)}
restart = {{ max = 2, backoff = {{ initial = "20ms" }} }}
''')
    start_ok(d, ["keep"])
    ev = EventStream(d)
    check(ev.started(), "the events stream starts")
    try:
        r = reins(["start", "job"], d, timeout=60)
        check(r.returncode in (0, 3), f"start job: {show(r)}")
        check(wait_for(lambda: ("restarting", "failed") in ev.transitions("job"), 20),
              f"job ends in failed: {ev.transitions('job')}")
        r = reins(["restart", "job"], d, timeout=60)
        check(wait_for(lambda: ev.transitions("job").count(("failed", "starting")) == 1, 10),
              f"a manual restart leaves failed: {show(r)} {ev.transitions('job')}")
        reins(["stop", "job"], d, timeout=60)
        r = reins(["restart", "keep"], d, timeout=60)
        check(r.returncode == 0, f"restart keep: {show(r)}")
        reins(["stop", "keep"], d, timeout=60)
        check(wait_for(lambda: ("stopping", "stopped") in ev.transitions("keep")[4:], 10), "keep stopped")
        seen = set(ev.transitions("job")) | set(ev.transitions("keep"))
        for e in seen:
            check(e in EDGES, f"{e[0]} -> {e[1]} is an edge of the diagram: {sorted(seen)}")
        for e in [("stopped", "starting"), ("starting", "running"), ("running", "stopping"), ("stopping", "stopped"),
                  ("running", "restarting"), ("restarting", "starting"), ("restarting", "failed"),
                  ("failed", "starting")]:
            check(e in seen, f"the walk covered {e[0]} -> {e[1]}: {sorted(seen)}")
    finally:
        ev.close()


def _start_time(path):
    m = re.search(r"^start pid=\d+ ppid=\d+ time=([\d.]+)", read(path, "") or "", re.M)
    return float(m.group(1)) if m else None


def test_depends_on_started_waits_for_the_spawn_only(d):
    rec = {n: os.path.join(d, f"record-{n}") for n in ("api", "web", "worker")}
    api_cmd = [FIXTURE, "--port", "${PORT}", "--ready-after", "1500ms", "--record", rec["api"]]
    web = [FIXTURE, "--no-listen", "--record", rec["web"]]
    worker = [FIXTURE, "--no-listen", "--record", rec["worker"]]
    write(d, "reins.toml", f'''version = 1
[service.api]
command = {toml_cmd(api_cmd)}
port = "auto"
ready = {{ http = "/ready" }}

[service.web]
command = {toml_cmd(web)}
depends_on = {{ api = "started" }}

[service.worker]
command = {toml_cmd(worker)}
depends_on = ["api"]
''')
    r, ready = start_ok(d)
    # `start` returns once they run; a fixture records its start a moment later.
    wait_for(lambda: all(_start_time(p) for p in rec.values()), 10)
    t = {n: _start_time(p) for n, p in rec.items()}
    if not check(all(t.values()), f"all three started: {t} {show(r)}"):
        return
    check(t["web"] - t["api"] < 1.0, f"web (api = \"started\") spawned with api, not after its readiness: {t}")
    check(t["worker"] - t["api"] >= 1.4, f"worker (depends_on = [\"api\"]) waited for api's readiness: {t}")


if __name__ == "__main__":
    main(globals())
