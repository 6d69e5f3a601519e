#!/usr/bin/env python3
"""The C ABI (reins.h) through Python's ctypes: a host in another language.

usage: capi_test.py LIBREINS FIXTURE [test_name...]

Real library, real threads, real processes and sockets on loopback. Every
process a test starts is killed by pid in a finally block. A host process
killed while its services run is in capi_host_killed_test.py.
"""
import ctypes
import json
import os
import select
import socket
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from capi_harness import alive, call, enc, fixture_toml, kill_pids, lib, main, status, take  # noqa: E402


def test_start_status_events_stop():
    h, msg = call(lib.reins_open_text, enc(fixture_toml()), enc(tempfile.gettempdir()), None)
    assert h, msg
    pids = []
    try:
        code, msg = call(lib.reins_start, h, b"api", 15000)
        assert code == 0, msg
        assert "api running on port" in msg, msg
        st = status(h)
        assert st[0]["name"] == "api" and st[0]["state"] == "running", st
        pids.append(st[0]["pid"])
        port = st[0]["port"]
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        fd = lib.reins_event_fd(h)
        assert fd >= 0
        r, _, _ = select.select([fd], [], [], 2)
        assert r, "the event fd did not become readable"
        events = json.loads(take(lib.reins_events(h)))
        tos = [e["to"] for e in events if e["type"] == "transition" and e["service"] == "api"]
        assert "starting" in tos and "running" in tos, events
        r, _, _ = select.select([fd], [], [], 0)
        assert not r, "the event fd stayed readable after every event was read"
        code, msg = call(lib.reins_stop, h, b"api", 15000)
        assert code == 0, msg
        assert not alive(pids[0])
        code, msg = call(lib.reins_stop, h, b"api", 15000)
        assert code == 1, (code, msg)
    finally:
        lib.reins_close(h)
        kill_pids(pids)


def test_codes_and_bad_input():
    h, msg = call(lib.reins_open_text, enc(fixture_toml()), None, b'{"queue_events": false}')
    assert h, msg
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen(1)
    pids = []
    try:
        assert lib.reins_event_fd(h) == -1
        code, msg = call(lib.reins_start, h, b"nope", 5000)
        assert code == 1 and "nope" in msg, (code, msg)
        code, msg = call(lib.reins_restart, h, None, 5000)
        assert code == 3 and "name" in msg, (code, msg)
        # Port in use: exit code 2, naming this process as the holder.
        toml = fixture_toml("web").replace('port = "auto"', f"port = {held.getsockname()[1]}")
        code, msg = call(lib.reins_add_text, h, enc(toml), None)
        assert code == 0, msg
        code, msg = call(lib.reins_start, h, b"web", 10000)
        assert code == 2, (code, msg)
        assert f"pid {os.getpid()}" in msg, msg
        # A config with errors adds nothing and says what is wrong.
        code, msg = call(lib.reins_add_text, h, b"version = 1\n[service.x]\ncommand = 5\n", None)
        assert code == 3 and "command" in msg, (code, msg)
        assert [s["name"] for s in status(h)] == ["api", "web"]
        # A startup timeout from a deadline: code 3, the start goes on.
        code, msg = call(lib.reins_start, h, b"api", 0)
        assert code == 3 and "no answer" in msg, (code, msg)
        code, msg = call(lib.reins_start, h, b"api", 15000)
        assert code == 0, msg
        pids.append(status(h)[0]["pid"])
    finally:
        lib.reins_close(h)
        held.close()
        kill_pids(pids)
    assert not any(alive(p) for p in pids), "closing the host left a service running"
    # A closed handle is refused, never a crash; closing twice is harmless.
    code, msg = call(lib.reins_start, h, b"api", 1000)
    assert code == 3 and "not an open reins host" in msg, (code, msg)
    assert lib.reins_status(h) is None
    assert lib.reins_events(h) is None
    assert lib.reins_event_fd(h) == -1
    lib.reins_close(h)
    lib.reins_close(None)
    code, msg = call(lib.reins_stop, ctypes.c_void_p(123456789), None, 1000)
    assert code == 3, (code, msg)
    # Bad options and bad configs: NULL and a message.
    for opts, words in [(b"[1]", "JSON object"), (b'{"state_dir": 5}', "state_dir"), (b'{"colour": true}', "unknown option")]:
        h2, msg = call(lib.reins_open, opts)
        assert not h2 and words in msg, (opts, msg)
    h2, msg = call(lib.reins_open_file, b"/nonexistent/reins.toml", None)
    assert not h2 and "/nonexistent/reins.toml" in msg, msg
    h2, msg = call(lib.reins_open_text, b"version = 1\n[service.a]\n", None, None)
    assert not h2 and "command" in msg, msg


def test_host_thread_and_caller_thread_at_once():
    """One thread waits on the event fd and reads events while another starts
    and stops services, and a third asks for the status: all at once."""
    toml = fixture_toml("a") + fixture_toml("b").replace("version = 1\n", "")
    h, msg = call(lib.reins_open_text, enc(toml), None, None)
    assert h, msg
    seen = []
    errors = []
    done = threading.Event()

    def watch_events():
        fd = lib.reins_event_fd(h)
        while not done.is_set():
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                s = take(lib.reins_events(h))
                if s:
                    seen.extend(json.loads(s))

    def drive(name):
        try:
            for _ in range(5):
                code, msg = call(lib.reins_start, h, enc(name), 15000)
                if code != 0:
                    errors.append(msg)
                code, msg = call(lib.reins_stop, h, enc(name), 15000)
                if code != 0:
                    errors.append(msg)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    def poll_status():
        while not done.is_set():
            if status(h) is None:
                errors.append("status returned NULL on an open host")

    threads = [threading.Thread(target=f, args=a) for f, a in [(watch_events, ()), (drive, ("a",)), (drive, ("b",)), (poll_status, ())]]
    try:
        for t in threads:
            t.start()
        threads[1].join(120)
        threads[2].join(120)
    finally:
        done.set()
        for t in threads:
            t.join(10)
        lib.reins_close(h)
    assert not errors, errors
    for name in ("a", "b"):
        runs = [e for e in seen if e.get("type") == "transition" and e["service"] == name and e["to"] == "running"]
        assert len(runs) == 5, (name, len(runs))


def test_close_racing_calls():
    """reins_close on one thread while others call in: each call gets an answer
    (0, or 3 for a closed host), nothing crashes."""
    h, msg = call(lib.reins_open_text, enc(fixture_toml()), None, None)
    assert h, msg
    codes = []
    last = {}

    def caller(i):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            code = call(lib.reins_start, h, b"api", 15000)[0]
            codes.append(code)
            s = lib.reins_status(h)
            if s:
                lib.reins_free(s)
            last[i] = code
            if code == 3:
                break

    ts = [threading.Thread(target=caller, args=(i,)) for i in range(3)]
    for t in ts:
        t.start()
    time.sleep(0.3)
    lib.reins_close(h)
    for t in ts:
        t.join(60)
    assert set(codes) <= {0, 3}, set(codes)
    assert codes.count(0) > 0, "no call got through before the close"
    assert all(last[i] == 3 for i in range(3)), last


def test_version():
    v = lib.reins_version().decode()
    assert v and v[0].isdigit(), v


if __name__ == "__main__":
    main(globals())
