#!/usr/bin/env python3
"""`reins start` / `status` / `stop` / `restart` and the background daemon
against the real binary.

Usage: daemon_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
docs/cli.md (exit codes, idempotence, the status table and --json, --lsb;
the detached daemon, its files, adding a service), the stop order with
nothing left (docs/engine.md), docs/reliability.md.
Usage errors, failed starts and a crash loop ending failed are in
daemon_failures_cli_test.py; the killed-supervisor and
one-supervisor-per-directory cases in state_cli_test.py.
"""
import json
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import (FIXTURE, alive, api_config, check, daemons_of, http_get, main, port_free, read,
                           ready_lines, reins, service, show, start_ok, start_time, starts_recorded, state_json,
                           status_json, supervisor_pid, toml_cmd, track, wait_gone, write)


# ---- start / status / stop --------------------------------------------------------

def test_round_trip(d):
    api_config(d)
    sd = os.path.join(d, ".reins")
    r, ready = start_ok(d)
    if not check("api" in ready, f"ready line of api: {r.stderr!r}"):
        return
    port, pid = ready["api"]
    check(re.search(r"^reins: api ready on http://127\.0\.0\.1:\d+ \(pid \d+, [0-9.]+s\)$", r.stderr, re.M),
          f"the ready line's format: {r.stderr!r}")
    check(r.stdout == "", f"start prints nothing on stdout: {r.stdout!r}")
    check(alive(pid) and http_get(port, "/ready") == 200, "the service runs and answers")
    sup = supervisor_pid(sd)
    check(sup and alive(sup) and sup != pid, f"reins.pid names a live supervisor: {sup}")
    check(daemons_of(sd) == [sup], f"the daemon is the pid of reins.pid: {daemons_of(sd)} vs {sup}")
    check(read(os.path.join(sd, "pids", "api.pid"), "").strip() == str(pid), "pids/api.pid is the service pid")
    lock = json.loads(read(os.path.join(sd, "reins.lock"), "{}") or "{}")
    check(lock.get("pid") == sup and lock.get("start_time") == start_time(sup) and "version" in lock
          and "started_at" in lock, f"reins.lock: {lock}")
    snap = state_json(sd)
    s = service(snap, "api")
    check(s is not None and s.get("pid") == pid and s.get("pid_start_time") == start_time(pid)
          and s.get("state") == "running" and s.get("port") == port, f"state.json: {snap}")
    # The daemon is detached: its own session, stdio on reins.log.
    check(os.getsid(sup) == sup, "the daemon leads its own session")
    check(os.path.realpath(f"/proc/{sup}/fd/1") == os.path.realpath(os.path.join(sd, "logs", "reins.log")),
          "the daemon's stdout is logs/reins.log")
    r = reins(["status"], d)
    check(r.returncode == 0 and re.search(rf"^api\s+running\s+\S+\s+{pid}\s+{port}\s", r.stdout, re.M),
          f"status: 0 and the row of api: {show(r)}")
    r = reins(["status", "api"], d)
    check(r.returncode == 0, f"status api: 0: {show(r)}")
    r = reins(["status", "--lsb", "api"], d)
    check(r.returncode == 0, f"status --lsb api: 0: {show(r)}")
    r = reins(["status", "nope"], d)
    check(r.returncode == 1 and "nope" in r.stderr, f"status of an unknown service: 1: {show(r)}")
    r = reins(["status", "--lsb", "nope"], d)
    check(r.returncode == 4, f"status --lsb of an unknown service: 4: {show(r)}")
    # Stop the service alone: the supervisor stays.
    r = reins(["stop", "api"], d)
    check(r.returncode == 0, f"stop api: 0: {show(r)}")
    check(not alive(pid) and port_free(port), "stop api returns when the process is gone and its port is free")
    check(alive(sup), "the supervisor stays after stopping one service")
    check(not os.path.exists(os.path.join(sd, "pids", "api.pid")), "pids/api.pid removed")
    r = reins(["status", "api"], d)
    check(r.returncode == 1 and re.search(r"^api\s+stopped", r.stdout, re.M), f"status of a stopped service: 1: {show(r)}")
    r = reins(["status", "--lsb", "api"], d)
    check(r.returncode == 3, f"status --lsb of a stopped service: 3: {show(r)}")
    r = reins(["stop", "api"], d)
    check(r.returncode == 1 and "not running" in r.stderr, f"stop of a stopped service: 1: {show(r)}")
    # restart of a stopped service starts it; of a running one, a new pid.
    r = reins(["restart", "api"], d)
    ready = ready_lines(r.stderr)
    check(r.returncode == 0 and "api" in ready, f"restart of a stopped service starts it: {show(r)}")
    pid2 = ready.get("api", (0, 0))[1]
    track(pid2)
    check(pid2 != pid and alive(pid2), "a new pid")
    r = reins(["restart", "api"], d)
    ready = ready_lines(r.stderr)
    pid3 = ready.get("api", (0, 0))[1]
    track(pid3)
    check(r.returncode == 0 and pid3 and pid3 != pid2 and alive(pid3) and not alive(pid2),
          f"restart of a running service: a new pid, the old one gone: {show(r)}")
    port3 = ready.get("api", (0, 0))[0]
    check(port3 and http_get(port3, "/ready") == 200, "the restarted service answers")
    check(starts_recorded(d) == 3, f"three starts in all: {read(os.path.join(d, 'record-api'))!r}")
    # Stop everything: services, then the daemon; its files go.
    r = reins(["stop"], d)
    check(r.returncode == 0, f"stop: 0: {show(r)}")
    check(not alive(pid3) and port_free(port3), "service gone, port free after stop")
    check(wait_gone(sup, 5), "the daemon exited")
    check(not os.path.exists(os.path.join(sd, "reins.sock")), "reins.sock removed")
    check(not os.path.exists(os.path.join(sd, "reins.pid")), "reins.pid removed")
    check(os.path.isdir(os.path.join(sd, "logs")), "logs/ kept")
    r = reins(["stop"], d)
    check(r.returncode == 1, f"stop again: 1: {show(r)}")
    r = reins(["status"], d)
    check(r.returncode == 1, f"status after stop: 1: {show(r)}")


def test_start_twice(d):
    api_config(d)
    r, ready = start_ok(d)
    if not check("api" in ready, f"ready line: {r.stderr!r}"):
        return
    pid = ready["api"][1]
    sup = supervisor_pid(os.path.join(d, ".reins"))
    r = reins(["start"], d)
    check(r.returncode == 0, f"second start: 0: {show(r)}")
    check(f"reins: api already running (pid {pid})" in r.stderr, f"already running with the service's pid: {r.stderr!r}")
    check(supervisor_pid(os.path.join(d, ".reins")) == sup and alive(pid), "same supervisor, same service process")
    r = reins(["start", "api"], d)
    check(r.returncode == 0 and f"already running (pid {pid})" in r.stderr, f"start api again: {show(r)}")
    check(starts_recorded(d) == 1, "the service was started once")
    r, doc = status_json(d)
    check(service(doc, "api") and service(doc, "api")["restarts"] == 0, f"no restart: {doc}")


def test_start_adds_service(d):
    sd = os.path.join(d, ".reins")
    r, ready = start_ok(d, ["--name", "first", "--", FIXTURE, "--no-listen"], "start --name first")
    sup = supervisor_pid(sd)
    check("first" in ready and ready["first"][0] is None, f"ready line without a port: {r.stderr!r}")
    r, ready2 = start_ok(d, ["--name", "second", "--port", "auto", "--ready", "tcp", "--", FIXTURE, "--port", "$PORT"],
                         "start --name second")
    check("second" in ready2, f"second ready: {r.stderr!r}")
    check(supervisor_pid(sd) == sup and daemons_of(sd) == [sup], "added to the running daemon")
    r, doc = status_json(d)
    names = [s["name"] for s in (doc or {}).get("services", [])]
    check(r.returncode == 0 and sorted(names) == ["first", "second"], f"both in status: {names}")
    if "second" in ready2:
        check(http_get(ready2["second"][0], "/") == 200, "$PORT substituted in the argv of start")
    r = reins(["start", "--name", "first", "--", FIXTURE, "--no-listen"], d)
    check(r.returncode == 0 and "already running" in r.stderr, f"start --name of a running one: {show(r)}")
    r = reins(["stop"], d)
    check(r.returncode == 0 and wait_gone(sup, 5), f"stop all and the daemon: {show(r)}")
    for name, (port, pid) in {**ready, **ready2}.items():
        check(not alive(pid), f"{name} gone")


def test_stop_order_and_unknown_names(d):
    rec_api, rec_web = os.path.join(d, "record-api"), os.path.join(d, "record-web")
    write(d, "reins.toml", f'''version = 1
[service.api]
command = {toml_cmd([FIXTURE, "--port", "${PORT}", "--record", rec_api])}
port = "auto"
ready = {{ tcp = true }}
[service.web]
command = {toml_cmd([FIXTURE, "--port", "${PORT}", "--record", rec_web, "--ignore-term"])}
port = "auto"
ready = {{ tcp = true }}
depends_on = ["api"]
stop.timeout = "1s"
''')
    r, ready = start_ok(d)
    check(set(ready) == {"api", "web"}, f"both started: {r.stderr!r}")
    for verb in ("stop", "restart", "start"):
        r = reins([verb, "nope"], d)
        # stop/restart: 1 (no such service); start validates the names first (1 or 3).
        ok = r.returncode == 1 if verb != "start" else r.returncode in (1, 3)
        check(ok and "nope" in r.stderr, f"{verb} of an unknown service fails naming it: {show(r)}")
    r = reins(["stop"], d, timeout=60)
    check(r.returncode == 0, f"stop: {show(r)}")

    def stamp(path, what):
        m = re.search(rf"^{what} time=([0-9.]+)$", read(path, "") or "", re.M)
        return float(m.group(1)) if m else None

    api_term, web_term = stamp(rec_api, "signal SIGTERM"), stamp(rec_web, "signal SIGTERM")
    check(api_term and web_term, f"both got SIGTERM: {read(rec_api)!r} {read(rec_web)!r}")
    if api_term and web_term:
        # web ignores SIGTERM and is killed at its 1 s timeout; api (its dependency) is stopped after it.
        check(api_term >= web_term + 0.5, f"reverse dependency order: api stopped after web ({api_term - web_term:.2f}s)")
    for name, (port, pid) in ready.items():
        check(not alive(pid) and port_free(port), f"{name}: gone, port free")


def test_stop_leaves_no_grandchild(d):
    record = os.path.join(d, "record-api")
    api_config(d, ["--grandchild", "--grandchild-ignore-term"], 'stop.timeout = "1s"\n')
    r, ready = start_ok(d)
    m = re.search(r"^grandchild pid=(\d+) port=(\d+)", read(record, "") or "", re.M)
    if not check("api" in ready and m, f"started with a setsid grandchild: {read(record)!r}"):
        return
    gpid, gport = int(m.group(1)), int(m.group(2))
    track(gpid)
    check(alive(gpid) and not port_free(gport), "the grandchild holds its port")
    r = reins(["stop", "api"], d, timeout=60)
    check(r.returncode == 0, f"stop api: {show(r)}")
    check(not alive(ready["api"][1]) and not alive(gpid), "stop returns when the child and its setsid'd grandchild are gone")
    check(port_free(ready["api"][0]) and port_free(gport), "both ports free")


def parse_table(text):
    lines = text.splitlines()
    header = lines[0]
    cols = ["SERVICE", "STATE", "HEALTH", "PID", "PORT", "UPTIME", "RESTARTS", "LAST EXIT", "STATUS"]
    starts = [header.index(c) for c in cols]
    rows = []
    for l in lines[1:]:
        row = {}
        for i, c in enumerate(cols):
            end = starts[i + 1] if i + 1 < len(cols) else None
            row[c] = l[starts[i]:end].strip()
        rows.append(row)
    return header, rows


def test_status_json_matches_table(d):
    write(d, "reins.toml", f'''version = 1
[service.api]
command = {toml_cmd([FIXTURE, "--port", "${PORT}"])}
port = "auto"
ready = {{ tcp = true }}
[service.worker]
command = {toml_cmd([FIXTURE, "--no-listen"])}
''')
    sd = os.path.join(d, ".reins")
    start_ok(d)
    r = reins(["stop", "worker"], d)
    check(r.returncode == 0, f"stop worker: {show(r)}")
    table = reins(["status"], d)
    rj, doc = status_json(d)
    check(table.returncode == 1 and rj.returncode == 1, "status exits 1 with a stopped service (table and json)")
    if not check(doc is not None, f"status --json parses: {rj.stdout!r}"):
        return
    check(rj.stderr == "", f"--json: nothing on stderr: {rj.stderr!r}")
    sup = doc.get("supervisor", {})
    check(sup.get("pid") == supervisor_pid(sd), f"supervisor pid: {sup}")
    check(os.path.realpath(sup.get("state_dir", "")) == os.path.realpath(sd), f"state_dir: {sup}")
    check(os.path.realpath(sup.get("config", "") or "") == os.path.realpath(os.path.join(d, "reins.toml")),
          f"config: {sup}")
    version = reins(["--version"], d).stdout.split()
    check(version and sup.get("version") in version[-1], f"version {sup.get('version')} vs {version}")
    check(isinstance(sup.get("uptime_ms"), int) and sup["uptime_ms"] >= 0, "uptime_ms")
    keys = {"name", "state", "health", "pid", "pid_start_time", "port", "restarts", "uptime_ms", "last_exit",
            "stopped_by", "status_text", "instance", "last_output"}
    for s in doc.get("services", []):
        check(keys <= set(s), f"service keys: missing {keys - set(s)}")
    header, rows = parse_table(table.stdout)
    check([r["SERVICE"] for r in rows] == [s["name"] for s in doc["services"]] == ["api", "worker"],
          f"same services in the same order: {table.stdout!r}")
    for row, s in zip(rows, doc["services"]):
        check(row["STATE"] == s["state"] and row["HEALTH"] == s["health"], f"state/health of {s['name']}: {row} {s}")
        check(row["PID"] == (str(s["pid"]) if s["pid"] else "-"), f"pid of {s['name']}: {row} {s}")
        check(row["PORT"] == (str(s["port"]) if s["port"] else "-"), f"port of {s['name']}: {row} {s}")
        check(row["RESTARTS"] == str(s["restarts"]), f"restarts of {s['name']}")
        check(row["LAST EXIT"] == (s["last_exit"] or "-"), f"last exit of {s['name']}: {row} {s}")
    api, worker = service(doc, "api"), service(doc, "worker")
    check(api["state"] == "running" and api["pid"] and api["port"] and api["instance"], f"api: {api}")
    check(api["pid_start_time"] == start_time(api["pid"]), "pid_start_time is /proc/PID/stat field 22")
    check(worker["state"] == "stopped" and not worker["pid"] and worker["last_exit"], f"worker: {worker}")
    r, one = status_json(d, ["api"])
    check(r.returncode == 0 and [s["name"] for s in one["services"]] == ["api"], f"status --json api: {one}")


if __name__ == "__main__":
    main(globals())
