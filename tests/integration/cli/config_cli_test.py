#!/usr/bin/env python3
"""`reins check` and `reins config migrate` against the real binary.

Usage: config_cli_test.py PATH/TO/reins
Checks exit codes (docs/cli.md), the stdout/stderr split, colors only on a TTY
and never with NO_COLOR, and the migration's file handling.
"""
import json
import os
import pty
import resource
import select
import signal
import subprocess
import sys
import tempfile
import tomllib

REINS = os.path.abspath(sys.argv[1])
failures = []

SPEC_EXAMPLE = r'''version = 1
[supervisor]
listen = "127.0.0.1:9090"
[defaults]
restart.policy = "on-failure"
[service.api]
command = "cargo run -- --port $PORT"
env = { RUST_LOG = "info" }
port = "8000-8100"
[service.api.ready]
http = "/ready"
[service.web]
command = ["npx", "vite", "--port", "${PORT}"]
port = "auto"
ready = { log = "ready in \\d+ ms" }
depends_on = ["api"]
'''

BAD = '''version = 1
[service.api]
command = "x"
restarts = 3
stop.timeout = "5 seconds"
'''

LEGACY = '''# the sidecar
command = ["./server", "--port", "${PORT}"]
[server]
port = 8080
port_range = [8080, 8090]
max_connections = 100
[logging]
level = "debug"
[resilience]
startup_timeout_secs = 15
'''


def run(args, cwd, env=None, preexec=None):
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    e.update(env or {})
    return subprocess.run([REINS] + args, cwd=cwd, env=e, capture_output=True, text=True, timeout=60,
                          preexec_fn=preexec)


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def write(d, name, text):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text)
    return p


def read(d, name):
    with open(os.path.join(d, name)) as f:
        return f.read()


def human_lines_prefixed(stderr):
    # Every line that is not an excerpt ("  12 | ...") starts with "reins: ".
    return all(l.startswith("reins: ") or l.lstrip()[:1].isdigit() or l.lstrip().startswith("|")
               for l in stderr.splitlines())


def test_check_valid(d):
    write(d, "reins.toml", SPEC_EXAMPLE)
    r = run(["check"], d)
    check(r.returncode == 0, f"check valid: exit {r.returncode}: {r.stderr}")
    doc = tomllib.loads(r.stdout)  # stdout is the effective config, as TOML
    api = doc["service"]["api"]
    check(api["ready"]["timeout"] == "30s", "check shows defaults (ready.timeout)")
    check(api["restart"]["max"] == 5 and api["stop"]["signal"] == "TERM", "check shows defaults (restart, stop)")
    check(api["cwd"] == os.path.realpath(d) or api["cwd"] == d, f"cwd resolved: {api['cwd']}")
    check(doc["service"]["web"]["depends_on"] == ["api"], "depends_on shown")
    check("is valid: 2 services (api, web)" in r.stderr, f"summary on stderr: {r.stderr}")
    check("[service" not in r.stderr, "no data on stderr")
    check(human_lines_prefixed(r.stderr), f"stderr lines prefixed: {r.stderr!r}")
    # The printed config is itself a config that prints the same.
    write(d, "printed.toml", r.stdout)
    again = run(["check", "-c", "printed.toml"], d)
    check(again.returncode == 0, "printed config is valid")
    check(again.stdout.split("\n", 1)[1] == r.stdout.split("\n", 1)[1], "printed config prints the same")


def test_check_invalid(d):
    write(d, "reins.toml", BAD)
    r = run(["check"], d)
    check(r.returncode == 3, f"check invalid: exit {r.returncode}")
    check(r.stdout == "", "nothing on stdout for an invalid config")
    check("reins: reins.toml:4:1: error: unknown key 'restarts' in [service.api] — did you mean 'restart'?" in r.stderr,
          f"unknown key line: {r.stderr}")
    check("reins.toml:5:16: error: service.api.stop.timeout:" in r.stderr, "duration error line")
    check("2 errors in reins.toml" in r.stderr, "error count")
    check("\x1b[" not in r.stderr, "no colors when stderr is not a TTY")
    check(human_lines_prefixed(r.stderr), f"stderr lines prefixed: {r.stderr!r}")


def test_check_json(d):
    write(d, "reins.toml", SPEC_EXAMPLE)
    r = run(["check", "--json"], d)
    doc = json.loads(r.stdout)
    check(r.returncode == 0 and doc["ok"] is True, "check --json valid")
    check(doc["config"]["service"]["api"]["port"] == "8000-8100", "json has the config")
    check(r.stderr == "", f"--json: nothing on stderr: {r.stderr}")
    write(d, "reins.toml", BAD)
    r = run(["check", "--json"], d)
    doc = json.loads(r.stdout)
    check(r.returncode == 3 and doc["ok"] is False, "check --json invalid")
    errs = [x for x in doc["diagnostics"] if x["severity"] == "error"]
    check(len(errs) == 2 and errs[0]["key"] == "service.api.restarts" and errs[0]["line"] == 4
          and errs[0]["column"] == 1, f"json diagnostics: {errs}")


def on_tty(args, cwd, env):
    """Runs reins with stderr on a pseudo-terminal; returns (exit, stderr text)."""
    master, slave = pty.openpty()
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    e.update(env)
    p = subprocess.Popen([REINS] + args, cwd=cwd, env=e, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return p.wait(timeout=30), out.decode(errors="replace")


def test_colors(d):
    write(d, "reins.toml", BAD)
    code, err = on_tty(["check"], d, {})
    check(code == 3 and "\x1b[1;31merror:" in err, f"colors on a TTY: {err!r}")
    code, err = on_tty(["check"], d, {"NO_COLOR": "1"})
    check(code == 3 and "\x1b[" not in err and "error:" in err, f"NO_COLOR: no colors: {err!r}")


def test_no_config(d):
    r = run(["check"], d)
    check(r.returncode == 3 and "no reins.toml or Procfile in" in r.stderr, f"no config: {r.stderr}")
    r = run(["check", "-c", "missing.toml"], d)
    check(r.returncode == 3 and "cannot read missing.toml" in r.stderr, f"missing -c file: {r.stderr}")


def test_procfile(d):
    write(d, "Procfile", "web: ./web --port $PORT\nworker: ./worker\n")
    write(d, ".env", "export SECRET='s3'\n")
    r = run(["check"], d)
    check(r.returncode == 0, f"Procfile: exit {r.returncode}: {r.stderr}")
    doc = tomllib.loads(r.stdout)
    check(doc["service"]["web"]["port"] == 5000 and doc["service"]["worker"]["port"] == 5100, "foreman ports")
    check(doc["service"]["worker"]["env"]["SECRET"] == "s3", ".env loaded")
    r = run(["check", "--port-base", "3000"], d)
    check(tomllib.loads(r.stdout)["service"]["worker"]["port"] == 3100, "--port-base")
    r = run(["check", "--port-base", "x"], d)
    check(r.returncode == 3 and "--port-base" in r.stderr, "bad --port-base")


def test_arguments(d):
    r = run(["--version"], d)
    check(r.returncode == 0 and r.stdout.startswith("reins "), "--version")
    r = run(["--help"], d)
    check(r.returncode == 0 and "config migrate" in r.stdout, "--help")
    r = run(["check", "--help"], d)
    check(r.returncode == 0 and "--json" in r.stdout, "check --help")
    r = run(["chek"], d)
    check(r.returncode == 3 and "did you mean 'reins check'?" in r.stderr, f"unknown command: {r.stderr}")
    r = run(["check", "--jsn"], d)
    check(r.returncode == 3 and "did you mean --json?" in r.stderr, f"unknown option: {r.stderr}")
    r = run(["check", "-c"], d)
    check(r.returncode == 3 and "needs a value" in r.stderr, "option without value")
    r = run(["config"], d)
    check(r.returncode == 3, "config without subcommand")
    r = run([], d)
    check(r.returncode == 3, "no command")


def test_migrate(d):
    write(d, "reins.toml", LEGACY)
    before = run(["check"], d)
    check(before.returncode == 0 and "legacy single-server format" in before.stderr, "legacy loads with a note")
    check("[server] max_connections is not used by reins" in before.stderr, "check says which keys are unused")
    dry = run(["config", "migrate", "--dry-run"], d)
    check(dry.returncode == 0 and "version = 1" in dry.stdout and read(d, "reins.toml") == LEGACY, "dry run")
    r = run(["config", "migrate"], d)
    check(r.returncode == 0 and "kept as reins.toml.bak" in r.stderr, f"migrate: {r.stderr}")
    check(read(d, "reins.toml.bak") == LEGACY, "original kept as .bak")
    check(read(d, "reins.toml") == dry.stdout, "migrated as the dry run said")
    after = run(["check"], d)
    check(after.returncode == 0 and "warning" not in after.stderr, f"migrated file is clean: {after.stderr}")
    check(after.stdout.split("\n", 1)[1] == before.stdout.split("\n", 1)[1], "same effective config")
    r = run(["config", "migrate"], d)
    check(r.returncode == 0 and "already version 1" in r.stderr, "second migrate is a no-op")
    leftovers = [f for f in os.listdir(d) if ".tmp-" in f]
    check(not leftovers, f"no temp files left: {leftovers}")


def test_migrate_invalid(d):
    write(d, "reins.toml", "[server]\ncommand = 5\n")
    r = run(["config", "migrate"], d)
    check(r.returncode == 3 and "server.command" in r.stderr and "unchanged" in r.stderr, f"invalid: {r.stderr}")
    check(read(d, "reins.toml") == "[server]\ncommand = 5\n" and not os.path.exists(os.path.join(d, "reins.toml.bak")),
          "invalid file untouched")


def test_migrate_write_fails(d):
    # The new file cannot be written (a file-size limit makes write(2) fail,
    # even as root): the original stays as it was.
    original = "[server]\ncommand = \"./server\"\n"
    write(d, "reins.toml", original)

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))

    r = run(["config", "migrate"], d, preexec=limit)
    check(r.returncode == 3 and "the original is unchanged" in r.stderr, f"write failure: {r.stderr}")
    check(read(d, "reins.toml") == original, "original intact after a failed write")
    check(not [f for f in os.listdir(d) if ".tmp-" in f], "temp file removed after a failed write")


def main():
    tests = [v for k, v in sorted(globals().items()) if k.startswith("test_")]
    for t in tests:
        with tempfile.TemporaryDirectory(prefix="reins-cli-") as d:
            n = len(failures)
            t(d)
            print(("ok  " if len(failures) == n else "FAIL") + " " + t.__name__)
    print(f"{len(tests)} test groups, {len(failures)} failed checks")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
