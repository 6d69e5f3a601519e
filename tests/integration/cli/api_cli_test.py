#!/usr/bin/env python3
"""The control API on .reins/reins.sock, driven by hand-written HTTP/1.1
requests, next to the real `reins` commands.

Usage: api_cli_test.py PATH/TO/reins PATH/TO/reins-fixture [TEST...]
docs/cli.md, Control API (routes, events, 4xx for garbage, oversized and slow requests; no
request can stall the supervisor), docs/reliability.md.
"""
import json
import os
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from reins_harness import (FIXTURE, EventStream, alive, api, check, main, ready_lines, reins, service, show, start_ok,
                           status_json, supervisor_pid, toml_cmd, track, unix_connect, wait_for, write)


def start_api(d):
    write(d, "reins.toml", f'''version = 1
[service.api]
command = {toml_cmd([FIXTURE, "--port", "${PORT}"])}
port = "auto"
ready = {{ tcp = true }}
''')
    _, ready = start_ok(d)
    return ready, supervisor_pid(os.path.join(d, ".reins"))


def sock_of(d):
    return os.path.join(d, ".reins", "reins.sock")


def status_fast(d, what, limit=5.0):
    t0 = time.monotonic()
    r = reins(["status"], d, timeout=30)
    took = time.monotonic() - t0
    check(r.returncode == 0 and "api" in r.stdout, f"status answers {what}: {show(r)}")
    check(took < limit, f"status answers within {limit}s {what}: took {took:.2f}s")


def read_until_closed(s, limit):
    """Everything the server sends until it closes (or `limit` seconds pass): (bytes, closed)."""
    s.settimeout(0.5)
    data, until = b"", time.monotonic() + limit
    while time.monotonic() < until:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def status_code(data):
    try:
        return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else None
    except (ValueError, IndexError):
        return None


def test_bad_requests_do_not_disturb(d):
    ready, sup = start_api(d)
    if not check("api" in ready and sup, "started"):
        return
    path = sock_of(d)
    # Stalled clients: half a request head, kept open.
    stalled = []
    for _ in range(20):
        s = unix_connect(path)
        s.sendall(b"GET /v1/sta")
        stalled.append(s)
    t_stall = time.monotonic()
    status_fast(d, "while 20 clients stall mid-request")
    # Garbage.
    with unix_connect(path) as s:
        s.sendall(b"\x00\xff\x16\x03\x01 garbage \r\n\r\n")
        data, closed = read_until_closed(s, 10)
        code = status_code(data)
        check(closed and (code is None or 400 <= code < 500), f"garbage: a 4xx (or nothing) and closed: {data[:200]!r}")
    status_fast(d, "after garbage")
    # A request head over 64 KiB.
    with unix_connect(path) as s:
        big = b"GET /v1/status HTTP/1.1\r\nHost: reins\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n"
        try:
            s.sendall(big)
        except OSError:
            pass  # the server may close before reading it all
        data, closed = read_until_closed(s, 10)
        code = status_code(data)
        check(closed and code is not None and 400 <= code < 500, f"oversized head: a 4xx and closed: {data[:200]!r}")
    # An oversized body.
    with unix_connect(path) as s:
        try:
            s.sendall(b"POST /v1/services/api/stop HTTP/1.1\r\nHost: reins\r\nContent-Length: 100000000\r\n\r\n"
                      + b"{" * 100000)
        except OSError:
            pass
        data, closed = read_until_closed(s, 10)
        code = status_code(data)
        check(closed and code is not None and 400 <= code < 500, f"oversized body: a 4xx and closed: {data[:200]!r}")
    status_fast(d, "after oversized requests")
    check(alive(ready["api"][1]), "the service was not stopped by the oversized stop request")
    # The stalled clients are answered 4xx (or closed) after the 5 s head timeout.
    for i, s in enumerate(stalled):
        data, closed = read_until_closed(s, max(1.0, 15 - (time.monotonic() - t_stall)))
        code = status_code(data)
        if not check(closed and (code is None or 400 <= code < 500), f"stalled client {i} closed with a 4xx: {data!r}"):
            break
    waited = time.monotonic() - t_stall
    check(waited >= 4.0, f"stalled clients are not cut before the 5 s timeout: {waited:.1f}s")
    for s in stalled:
        s.close()
    status_fast(d, "after the stalled clients")
    # A client that connects and closes at once, and one that never reads its answer.
    for _ in range(10):
        unix_connect(path).close()
    s = unix_connect(path)
    s.sendall(b"GET /v1/events HTTP/1.1\r\nHost: reins\r\n\r\n")
    status_fast(d, "with an events client that never reads")
    s.close()
    check(alive(sup), "the supervisor survived all of it")


def test_status_route_matches_cli(d):
    ready, sup = start_api(d)
    if not check("api" in ready, "started"):
        return
    reply = api(sock_of(d), "GET", "/v1/status")
    check(reply.status == 200 and "json" in reply.headers.get("content-type", ""), f"GET /v1/status: {reply.status}")
    body = reply.json()
    r, doc = status_json(d)
    check(body["supervisor"]["pid"] == sup == doc["supervisor"]["pid"], "same supervisor")
    a, b = service(body, "api"), service(doc, "api")
    check(a and b and a["pid"] == b["pid"] == ready["api"][1] and a["port"] == b["port"] == ready["api"][0],
          f"same service data: {a} {b}")
    reply = api(sock_of(d), "GET", "/v1/nope")
    check(reply.status == 404, f"unknown route: 404: {reply.status}")


def test_unknown_service_404(d):
    ready, sup = start_api(d)
    for action in ("stop", "start", "restart"):
        reply = api(sock_of(d), "POST", f"/v1/services/NOPE/{action}")
        check(reply.status == 404, f"POST /v1/services/NOPE/{action}: 404, got {reply.status}")
        try:
            body = reply.json()
            check(body.get("ok") is False and "NOPE" in json.dumps(body.get("error")), f"a JSON error naming NOPE: {body}")
        except ValueError:
            check(False, f"404 body is JSON: {reply.body!r}")
    check("api" in ready and alive(ready["api"][1]), "api untouched")
    reply = api(sock_of(d), "POST", "/v1/services/api/stop")
    check(reply.status == 200 and (reply.json().get("services") or [{}])[0].get("state") == "stopped",
          f"POST /v1/services/api/stop: 200 with the new status: {reply.body!r}")
    check(not alive(ready["api"][1]), "api stopped by the API")
    reply = api(sock_of(d), "POST", "/v1/services/api/stop")
    check(reply.status == 409, f"stop of a stopped service: 409: {reply.status} {reply.body!r}")
    reply = api(sock_of(d), "POST", "/v1/services/api/start")
    check(reply.status == 200, f"POST /v1/services/api/start: 200: {reply.body!r}")
    r, doc = status_json(d)
    s = service(doc, "api")
    check(r.returncode == 0 and s and s["state"] == "running", f"running again: {doc}")
    if s:
        track(s["pid"])


def test_events_stream(d):
    ready, sup = start_api(d)
    if not check("api" in ready, "started"):
        return
    old_pid = ready["api"][1]
    ev = EventStream(d)
    try:
        check(wait_for(lambda: b"snapshot" in ev.buf, 10), f"the stream starts: {bytes(ev.buf)!r}")
        head = ev.head_text().lower()
        check(head.startswith("http/1.1 200") and "transfer-encoding: chunked" in head, f"chunked 200: {head!r}")
        r = reins(["restart", "api"], d, timeout=60)
        check(r.returncode == 0, f"restart api: {show(r)}")
        new = ready_lines(r.stderr).get("api", (0, 0))[1]
        track(new)
        check(wait_for(lambda: ("starting", "running") in ev.transitions("api"), 10),
              f"events of the restart: {ev.events()}")
        tr = ev.transitions("api")
        check(tr and tr[0] == ("running", "stopping") and tr[-1] == ("starting", "running"),
              f"running -> stopping ... starting -> running: {tr}")
        events = ev.events()
        check(all("unparsable" not in e and "time" in e for e in events), f"every line is a JSON event with a time: {events}")
        running = [e for e in events if e.get("to") == "running"]
        check(running and running[-1].get("pid") == new and new != old_pid, f"the running event has the new pid {new}")
    finally:
        ev.close()


if __name__ == "__main__":
    main(globals())
