#!/usr/bin/env python3
"""Racing commands, repeated and ill-typed API requests, secrets in env
files and a `reins logs -f` whose reader went away, through the real
`reins` binary.

Usage: races_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
Each command gets the answer its own request deserves; the daemon stays up
while it has services; a request does bounded work; errors never show what
an env file holds (docs/cli.md, docs/config.md).
"""
import json
import os
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import (FIXTURE, REINS, alive, api, api_config, check, main, ready_lines, reins, running_test, service,
                           show, start_ok, starts_recorded, status_json, supervisor_pid, toml_cmd, toml_str, track,
                           wait_for, write, env_for)

SECRET = "sk_live_T0PSECRET4242"


def sock_of(d):
    return os.path.join(d, ".reins", "reins.sock")


def run_together(d, argvs):
    """Runs `reins ARGV` for every argv at once (one thread each); their results in order."""
    results = [None] * len(argvs)

    def one(i):
        results[i] = reins(argvs[i], d, timeout=90)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(argvs))]
    for t in threads:
        t.start()
        time.sleep(0.005)
    for t in threads:
        t.join(120)
    return results


def good_start(name, listen_after="1s"):
    return ["start", "--name", name, "--ready", "tcp", "--port", "auto", "--", FIXTURE,
            "--listen-after", listen_after]


def bad_start():
    return ["start", "--name", "bad", "--", "/nonexistent/reins-test-program"]


def check_round(d, what, good, results, bad_result):
    for name, r in zip(good, results):
        check(r.returncode == 0, f"{what}: start of {name} exits 0: {show(r)}")
        for port, pid in ready_lines(r.stderr).values():
            track(pid)
    check(bad_result.returncode == 3, f"{what}: the failed start exits 3: {show(bad_result)}")
    sup = supervisor_pid(os.path.join(d, ".reins"))
    if sup:
        track(sup)
    check(sup is not None and alive(sup), f"{what}: the daemon stays up")
    r, doc = status_json(d)
    check(doc is not None, f"{what}: status answers: {show(r)}")
    for name in good:
        s = service(doc, name)
        check(s is not None and s.get("state") == "running", f"{what}: {name} is running: {s}")


def test_failed_start_amid_waiting_starts(d):
    # The failing start comes while the others wait for their readiness.
    rounds = [("staggered", True), ("at once 1", False), ("at once 2", False), ("at once 3", False)]
    for i, (what, staggered) in enumerate(rounds):
        here = os.path.join(d, f"round{i}")
        os.mkdir(here)
        good = [f"s{k}" for k in range(4)]
        out = {}

        def starts():
            out["good"] = run_together(here, [good_start(n, "2s" if staggered else "1s") for n in good])

        t = threading.Thread(target=starts)
        t.start()
        if staggered:
            # Every good start is waiting for its port when the bad one fails.
            wait_for(lambda: all(service(status_json(here)[1], n) is not None for n in good), 20, 0.1)
            bad = reins(bad_start(), here, timeout=90)
        else:
            bad = reins(bad_start(), here, timeout=90)
        t.join(120)
        check_round(here, what, good, out.get("good", []), bad)
        r = reins(["stop"], here, timeout=60)
        check(r.returncode == 0, f"{what}: stop: {show(r)}")


def test_added_service_waiting_for_its_start_keeps_the_daemon(d):
    # A `reins start --name X` adds X, then asks to start it: in between, a
    # failed start of another service must not make the daemon leave.
    start_ok(d, ["--name", "first", "--ready", "tcp", "--port", "auto", "--", FIXTURE])
    r = reins(["stop", "first"], d, timeout=60)
    check(r.returncode == 0, f"stop first: {show(r)}")
    added = api(sock_of(d), "POST", "/v1/services", {"command": [FIXTURE], "flags": {"name": ["later"]},
                                                       "cwd": d})
    check(added.status == 200, f"the service is added: {added.status} {added.body[:300]!r}")
    bad = reins(bad_start(), d, timeout=60)
    check(bad.returncode == 3, f"the failed start exits 3: {show(bad)}")
    sup = supervisor_pid(os.path.join(d, ".reins"))
    check(sup is not None and alive(sup), "the daemon stays up for the service waiting for its start")
    started = api(sock_of(d), "POST", "/v1/start", {"services": ["later"]})
    check(started.status == 200, f"the added service starts: {started.status} {started.body[:300]!r}")
    for s in started.json().get("services", []) if started.status == 200 else []:
        if s.get("pid"):
            track(s["pid"])


def test_failed_start_alone_still_ends_the_daemon(d):
    # The rule itself stays: nothing else running, starting or asked for.
    bad = reins(bad_start(), d, timeout=60)
    check(bad.returncode == 3, f"the failed start exits 3: {show(bad)}")
    check(wait_for(lambda: not os.path.exists(os.path.join(d, ".reins", "reins.pid")) or
                   not alive(supervisor_pid(os.path.join(d, ".reins"))), 10),
          "the daemon with nothing to run exits after the failed start")


def test_repeated_name_is_one_action(d):
    api_config(d)
    start_ok(d)
    check(starts_recorded(d) == 1, f"one start recorded: {starts_recorded(d)}")
    t0 = time.monotonic()
    try:
        r = api(sock_of(d), "POST", "/v1/restart", {"services": ["api"] * 5000}, timeout=60)
    except OSError as e:
        check(False, f"the restart answers within 60s: {e!r}")
        return
    took = time.monotonic() - t0
    check(r.status == 200, f"restart answers 200: {r.status} {r.body[:300]!r}")
    body = r.json()
    check(len(body.get("services", [])) == 1, f"one service in the answer: {len(body.get('services', []))}")
    check(starts_recorded(d) == 2, f"the service was restarted once: {starts_recorded(d) - 1} restarts")
    check(took < 30, f"the answer came in bounded time: {took:.1f}s")
    r = api(sock_of(d), "POST", "/v1/stop", {"services": ["api", "api", "api"]})
    check(r.status == 200 and len(r.json().get("services", [])) == 1, f"stop of a repeated name: {r.body[:300]!r}")


def test_wrong_types_are_400_naming_the_field(d):
    r, ready = start_ok(d, ["--name", "base", "--ready", "tcp", "--port", "auto", "--", FIXTURE])
    _, before = status_json(d)
    base_pid = (service(before, "base") or {}).get("pid")
    sock = sock_of(d)
    cases = [
        ("/v1/services", {"command": [FIXTURE], "cwd": 5}, "cwd"),
        ("/v1/services", {"command": FIXTURE}, "command"),
        ("/v1/services", {"command": [FIXTURE, 5]}, "command"),
        ("/v1/services", {"command": []}, "command"),
        ("/v1/services", {"command": [FIXTURE, "a\u0000b"], "flags": {"name": ["nul"]}}, "command"),
        ("/v1/services", {"command": [FIXTURE], "flags": ["--name", "x"]}, "flags"),
        ("/v1/services", {"command": [FIXTURE], "flags": {"name": "x"}}, "name"),
        ("/v1/services", {"command": [FIXTURE], "flags": {"port": [8080]}}, "port"),
        ("/v1/services", {"command": [FIXTURE], "flags": {"nmae": ["typo"]}}, "nmae"),
        ("/v1/services", {"command": [FIXTURE], "flags": {"name": ["extra"]}, "comand": ["x"]}, "comand"),
        ("/v1/services", ["not", "an", "object"], "object"),
        ("/v1/stop", {"services": "base"}, "services"),
        ("/v1/stop", {"services": [5]}, "services"),
        ("/v1/stop", {"service": ["base"]}, "service"),
        ("/v1/restart", {"services": ["base"], "all": True}, "all"),
        ("/v1/stop", 5, "object"),
    ]
    for route, body, field in cases:
        rep = api(sock, "POST", route, body)
        try:
            err = rep.json().get("error", {})
        except ValueError:
            err = {}
        what = f"POST {route} {json.dumps(body)}"
        check(rep.status == 400, f"{what} answers 400: {rep.status} {rep.body[:300]!r}")
        check(err.get("kind") == "bad_request" and field in err.get("message", ""),
              f"{what}: the error names {field}: {err}")
    _, after = status_json(d)
    names = sorted(s.get("name") for s in (after or {}).get("services", []))
    check(names == ["base"], f"no service was added: {names}")
    s = service(after, "base") or {}
    check(s.get("state") == "running" and s.get("pid") == base_pid, f"base was left alone: {s}")


def env_case(d, name, text):
    write(d, name, text)
    return os.path.join(d, name)


def test_env_file_errors_name_the_line_not_its_content(d):
    env_case(d, "app.env", f"GOOD=1\n{SECRET} x\nALSO=2\n")
    env_case(d, "shadow.env", f"root:$6${SECRET}$abc:19000:0:99999:7:::\n")
    env_case(d, "quoted.env", f"A=\"{SECRET}\" {SECRET}\nB='{SECRET}\n")
    cmd = [FIXTURE, "--port", "${PORT}"]
    for env_file, where in (("app.env", "app.env:2"), ("shadow.env", "shadow.env:1"), ("quoted.env", "quoted.env:1")):
        write(d, "reins.toml", f'''version = 1
[service.api]
command = {toml_cmd(cmd)}
port = "auto"
env_file = {toml_str(env_file)}
''')
        for args in (["check"], ["start"]):
            r = reins(args, d, timeout=60)
            what = f"reins {' '.join(args)} with {env_file}"
            check(r.returncode != 0, f"{what} fails: {show(r)}")
            check(where in r.stderr, f"{what} names {where}: {show(r)}")
            check(SECRET not in r.stdout + r.stderr, f"{what} does not show the file's content: {show(r)}")
        os.remove(os.path.join(d, "reins.toml"))
        r = reins(["start", "--name", "one", "--env-file", env_file, "--", FIXTURE], d, timeout=60)
        what = f"reins start --env-file {env_file}"
        check(r.returncode != 0, f"{what} fails: {show(r)}")
        check(where + ":" in r.stderr, f"{what} names {where}:COLUMN: {show(r)}")
        check(SECRET not in r.stdout + r.stderr, f"{what} does not show the file's content: {show(r)}")
    log = os.path.join(d, ".reins", "logs", "reins.log")
    if os.path.exists(log):
        with open(log, errors="replace") as f:
            check(SECRET not in f.read(), "reins.log does not hold the env file's content")


def logs_service(d):
    """A service that prints `first`, then one line `next` each time d/go appears."""
    script = 'echo first; while :; do if [ -f go ]; then rm -f go; echo next; fi; sleep 0.05; done'
    write(d, "reins.toml", f'''version = 1
[service.tick]
command = {toml_str(script)}
''')
    start_ok(d)


def follow_into_closed_pipe(d):
    """`reins logs -f tick` whose stdout pipe is closed by the reader after the first line."""
    p = subprocess.Popen([REINS, "logs", "-f", "tick"], cwd=d, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, env=env_for())
    running_test["popens"].append(p)
    backlog = b""
    while b" out first" not in backlog:
        line = p.stdout.readline()
        if not line:
            break
        backlog += line
    check(b" out first" in backlog, f"logs -f prints the backlog: {backlog!r}")
    p.stdout.close()  # the reader goes away
    return p


def ended_within(p, seconds):
    try:
        return p.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


def test_logs_follow_ends_when_its_reader_leaves(d):
    logs_service(d)
    wait_for(lambda: os.path.exists(os.path.join(d, ".reins", "logs", "tick.log")), 10)
    # A new line to write into the closed pipe.
    p = follow_into_closed_pipe(d)
    write(d, "go", "")
    code = ended_within(p, 10)
    err = p.stderr.read().decode(errors="replace") if code is not None else ""
    check(code == 0, f"logs -f ends (exit 0) once a line meets the closed pipe: exit {code}; {err!r}")
    # No new line at all: it notices the reader left anyway, like tail -f.
    p = follow_into_closed_pipe(d)
    code = ended_within(p, 10)
    check(code == 0, f"logs -f ends (exit 0) when its reader left, with no new line: exit {code}")


if __name__ == "__main__":
    main(globals(), __doc__)
