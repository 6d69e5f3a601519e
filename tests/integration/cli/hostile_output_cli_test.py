#!/usr/bin/env python3
"""Bytes that are not text: a STATUS= text and service output with invalid
UTF-8 and NUL bytes, and service names or command arguments that are not
valid. Every JSON reins writes stays valid UTF-8 (bad bytes become U+FFFD),
the log files keep the bytes as written, the supervisor keeps answering, and
a bad name is refused with a clear error (exit 3, the name shown escaped).

Usage: hostile_output_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
See docs/cli.md (service names) and docs/engine.md.
"""
import json
import os
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import (REINS, EventStream, alive, api, check, env_for, main, ready_lines, sanitizer_clean, service, start_ok,
                           supervisor_pid, toml_cmd, track, unix_connect, wait_for, wait_gone, write)

PY = sys.executable
FFFD = "\ufffd"


def run(args, cwd, timeout=60):
    """reins ARGS with bytes kept as bytes: (exit code, stdout, stderr). Arguments
    may carry any byte as a surrogate escape ("\\udcff" is the byte 0xFF)."""
    try:
        r = subprocess.run([REINS] + args, cwd=cwd, env=env_for(), capture_output=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        check(False, f"reins {args!r} did not end within {timeout}s")
        return -999, e.stdout or b"", e.stderr or b""
    sanitizer_clean(r.stderr.decode(errors="replace"), f"reins {args!r}")
    return r.returncode, r.stdout, r.stderr


def utf8(b, what):
    """`b` decoded as strict UTF-8 (a failed check, and None, when it is not)."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError as e:
        check(False, f"{what} is valid UTF-8: {e}: {b[:400]!r}")
        return None


def json_of(b, what):
    text = utf8(b, what)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as e:
        check(False, f"{what} is valid JSON: {e}: {text[:400]!r}")
        return None


def state_dir(d):
    return os.path.join(d, ".reins")


def sock_of(d):
    return os.path.join(state_dir(d), "reins.sock")


def status_doc(d, what):
    code, out, err = run(["status", "--json"], d, timeout=30)
    check(code in (0, 1, 3), f"status --json {what}: exit {code}: {err!r}")
    return json_of(out, f"status --json {what}")


class Events(EventStream):
    """An events subscriber whose lines must each be valid JSON."""

    def docs(self, what):
        return [json_of(l, f"{what}: {l[:80]!r}") for l in self.lines()]


# ---- STATUS= ------------------------------------------------------------------

NOTIFY_SCRIPT = r'''
import os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(os.environ["NOTIFY_SOCKET"])
s.send(b"READY=1\nSTATUS=all fine")
time.sleep(0.3)
s.send(b"STATUS=\xff\xfe bad")
time.sleep(600)
'''


def test_invalid_status_text_then_stop(d):
    write(d, "reins.toml", f'''version = 1
[service.notified]
command = {toml_cmd([PY, "-c", NOTIFY_SCRIPT])}
ready = {{ notify = true }}
''')
    _, ready = start_ok(d)
    if not check("notified" in ready, "notified started (READY=1)"):
        return
    pid = ready["notified"][1]
    bad = FFFD + FFFD + " bad"

    def status_text():
        doc = status_doc(d, "with a STATUS= text that is not UTF-8")
        return (service(doc, "notified") or {}).get("status_text")

    check(wait_for(lambda: status_text() == bad, 15), f"status --json: the STATUS= text with U+FFFD: {status_text()!r}")
    code, out, err = run(["status"], d, timeout=30)
    text = utf8(out, "status")
    check(code == 0 and text is not None and bad in text, f"status shows the text with U+FFFD: {code} {out!r} {err!r}")
    reply = api(sock_of(d), "GET", "/v1/status")
    doc = json_of(reply.body, "GET /v1/status")
    check(reply.status == 200 and (service(doc, "notified") or {}).get("status_text") == bad,
          f"GET /v1/status: 200 with the replaced text: {reply.status} {reply.body[:300]!r}")
    # Stopping writes state.json and publishes events with that text in the
    # status: it must not wedge the service in `stopping`.
    t0 = time.monotonic()
    code, out, err = run(["stop", "notified"], d, timeout=30)
    check(code == 0, f"stop notified: exit 0 within 30s (took {time.monotonic() - t0:.1f}s): {code} {err!r}")
    check(wait_gone(pid, 10), f"the service's pid {pid} is gone")
    doc = status_doc(d, "after the stop")
    check((service(doc, "notified") or {}).get("state") == "stopped",
          f"notified is stopped: {service(doc, 'notified')}")
    with open(os.path.join(state_dir(d), "state.json"), "rb") as f:
        snap = json_of(f.read(), "state.json")
    check(snap is not None and any(s.get("name") == "notified" for s in snap.get("services", [])),
          f"state.json names the service: {snap}")
    sup = supervisor_pid(state_dir(d))
    code, out, err = run(["stop"], d, timeout=30)
    check(code == 0, f"stop (the supervisor): {code} {err!r}")
    check(not sup or wait_gone(sup, 10), "the supervisor exited")


# ---- output -------------------------------------------------------------------

BYTES_SCRIPT = r'''
import sys, time
o = sys.stdout.buffer
o.write(b"bad \xff\xfe bytes\nnul \x00 in\x00line\nhalf \xe2\x82\n")
o.flush()
sys.stderr.buffer.write(b"err \xc3\x28 seq\n")
sys.stderr.flush()
time.sleep(0.2)
o.write(b"ready \xff\n")
o.flush()
time.sleep(1.0)
o.write(b"last \xfe words\n")
o.flush()
sys.exit(3)
'''
WRITTEN = [b"bad \xff\xfe bytes", b"nul \x00 in\x00line", b"half \xe2\x82", b"err \xc3\x28 seq", b"ready \xff",
           b"last \xfe words"]


def test_output_bytes_events_logs(d):
    write(d, "reins.toml", f'''version = 1
[service.calm]
command = {toml_cmd([PY, "-c", "import time; time.sleep(600)"])}

[service.bytes]
command = {toml_cmd([PY, "-c", BYTES_SCRIPT])}
ready = {{ log = "^ready" }}
restart = "no"
''')
    _, ready = start_ok(d, ["calm"], "start calm")
    if not check("calm" in ready, "calm started"):
        return
    live = Events(d)  # subscribed before the bytes are printed
    later = None
    try:
        check(wait_for(lambda: live.lines(), 10), "the live subscriber gets its snapshot")
        _, ready = start_ok(d, ["bytes"], "start bytes")
        check("bytes" in ready, "bytes is ready at its line `ready \\xff`")

        def ended():
            s = service(status_doc(d, "after the bytes"), "bytes") or {}
            return s if s.get("state") in ("stopped", "failed") else None

        s = wait_for(ended, 20)
        check(s and any(FFFD in l for l in s.get("last_output", [])),
              f"bytes ended; its last output in status --json with U+FFFD: {s}")
        # A subscriber that connects now gets the whole snapshot and a stream
        # that stays open.
        later = Events(d)
        check(wait_for(lambda: len(later.lines()) >= 2, 10), f"a later subscriber gets a snapshot line per service: "
                                                              f"{later.lines()} (closed: {later.closed()})")
        time.sleep(1.0)
        check(not later.closed(), f"the later subscriber's stream stays open: {later.lines()}")
        snap = [e for e in later.docs("later snapshot") if e]
        check({e.get("name") for e in snap if e.get("snapshot")} == {"calm", "bytes"},
              f"snapshot lines of calm and bytes: {snap}")
        code, out, err = run(["restart", "calm"], d, timeout=60)
        check(code == 0, f"restart calm: {code} {err!r}")
        for port, pid in ready_lines(err.decode(errors="replace")).values():
            track(pid)

        def saw_restart(sub):
            return any(e and e.get("service") == "calm" and e.get("to") == "running" and not e.get("snapshot")
                       for e in sub.docs("events"))

        check(wait_for(lambda: saw_restart(later), 10), f"the later subscriber sees calm restart: {later.lines()}")
        check(wait_for(lambda: saw_restart(live), 10), f"the live subscriber sees calm restart: {live.lines()}")
        check(not live.closed() and not later.closed(), "both streams still open")
        evs = [e for e in live.docs("live events") if e and e.get("service") == "bytes"]
        check(any(e.get("to") == "running" and FFFD in e.get("reason", "") for e in evs),
              f"the live subscriber got bytes' ready event, its reason with U+FFFD: {evs}")
    finally:
        live.close()
        if later:
            later.close()
    # The log file and `reins logs` keep the bytes as written.
    with open(os.path.join(state_dir(d), "logs", "bytes.log"), "rb") as f:
        stored = f.read()
    for b in WRITTEN:
        check(b in stored, f"logs/bytes.log keeps {b!r}: {stored[-600:]!r}")
    code, out, err = run(["logs", "bytes"], d, timeout=30)
    check(code == 0, f"logs bytes: exit 0: {code} {err!r}")
    for b in WRITTEN:
        check(b in out, f"reins logs keeps {b!r}: {out[-600:]!r}")
    code, out, err = run(["status"], d, timeout=30)
    check(utf8(out, "status") is not None and utf8(err, "status's messages") is not None and b"bytes" in out,
          f"status: {code} {out!r} {err!r}")


# ---- names and arguments ------------------------------------------------------

BAD_NAMES = [
    (["stop", "\udcff"], r'"\xff"'),
    (["status", "bad/name"], '"bad/name"'),
    (["status", "--json", "x\udcfe\udcff"], r'"x\xfe\xff"'),
    (["restart", ""], '""'),
    (["logs", "a\tb"], r'"a\tb"'),
    (["start", "--name", "\udcff", "--", "true"], r'"\xff"'),
    (["stop", "n" * 65], '"nnn'),
]


def refused(d, args, shown, what):
    code, out, err = run(args, d, timeout=30)
    check(code == 3, f"{what}: reins {args!r}: exit 3: {code} {out!r} {err!r}")
    check(b"terminate called" not in err and b"Aborted" not in err, f"{what}: reins {args!r}: no abort: {err!r}")
    check(b"invalid service name " + shown.encode() in err, f"{what}: reins {args!r}: says the name is invalid, "
                                                            f"shown as {shown}: {err!r}")
    check(b"letters, digits" in err, f"{what}: reins {args!r}: says what a name may be: {err!r}")
    check(b"\xff" not in err and b"\xfe" not in err, f"{what}: reins {args!r}: no raw bytes: {err!r}")


def test_invalid_names_refused(d):
    write(d, "reins.toml", f'''version = 1
[service.calm]
command = {toml_cmd([PY, "-c", "import time; time.sleep(600)"])}
''')
    for args, shown in BAD_NAMES:
        refused(d, args, shown, "no supervisor")
    _, ready = start_ok(d)
    if not check("calm" in ready, "calm started"):
        return
    for args, shown in BAD_NAMES:
        refused(d, args, shown, "a supervisor running")
    # Unknown commands and options are named without their raw bytes.
    for args in (["st\udcffop"], ["status", "--js\udcffon"], ["status", "-\udcff"]):
        code, out, err = run(args, d, timeout=30)
        check(code == 3 and b"\xff" not in err and b"unknown" in err and b"\\xff" in err,
              f"reins {args!r}: exit 3, the bad byte escaped: {code} {err!r}")
    # An argument of a command given to `reins start` travels as JSON text.
    code, out, err = run(["start", "--name", "echoes", "--", PY, "-c", "pass", "\udcff"], d, timeout=30)
    check(code == 3 and b"terminate called" not in err and b"UTF-8" in err and b"\xff" not in err,
          f"start -- CMD with an argument that is not UTF-8: exit 3, says why: {code} {err!r}")
    # The control API: 400 naming the field, the reply valid JSON.
    sock = sock_of(d)
    for method, path, body, field in [
        ("POST", "/v1/services/%FF/stop", None, "path"),
        ("POST", "/v1/services/a%2Fb/restart", None, "path"),
        ("GET", "/v1/logs/%FF%FE", None, "path"),
        ("POST", "/v1/stop", {"services": ["calm", "bad/name"]}, '"services"'),
        ("POST", "/v1/start", {"services": [""]}, '"services"'),
        ("POST", "/v1/services", {"command": ["true"], "flags": {"name": ["bad/name"]}}, "name"),
        ("POST", "/v1/services", {"command": ["true"], "cwd": 7}, '"cwd"'),
    ]:
        reply = api(sock, method, path, body)
        doc = json_of(reply.body, f"{method} {path}")
        msg = ((doc or {}).get("error") or {}).get("message", "")
        check(reply.status == 400 and field in msg, f"{method} {path} {body}: 400 naming {field}: {reply.status} {msg!r}")
    raw = b'{"services":["\xff"]}'
    s = unix_connect(sock)
    s.sendall(b"POST /v1/stop HTTP/1.1\r\nHost: r\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(raw) + raw)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    check(data.startswith(b"HTTP/1.1 400"), f"a body with a raw 0xFF byte: 400: {data[:300]!r}")
    code, out, err = run(["status"], d, timeout=30)
    check(code == 0 and b"calm" in out and b"running" in out, f"calm still runs, status answers: {code} {out!r}")
    pid = ready["calm"][1]
    check(alive(pid), "calm's process is alive")


if __name__ == "__main__":
    main(globals())
