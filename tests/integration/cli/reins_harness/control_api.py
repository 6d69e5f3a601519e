"""The daemon's control socket (HTTP over a Unix socket): one request, and
the event stream."""
import json
import os
import socket
import threading

from .processes import wait_for


class ApiReply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


def _parse_reply(data):
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            n = int(size_line.split(b";")[0], 16)
            if n == 0:
                break
            body += rest[:n]
            rest = rest[n + 2:]
        return ApiReply(status, headers, body)
    if "content-length" in headers:
        rest = rest[:int(headers["content-length"])]
    return ApiReply(status, headers, rest)


def unix_connect(sock_path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    return s


def api(sock_path, method, path, body=None, timeout=30):
    """One request on the control socket (Connection: close); an ApiReply."""
    payload = b"" if body is None else json.dumps(body).encode()
    req = (f"{method} {path} HTTP/1.1\r\nHost: reins\r\nConnection: close\r\n"
           f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n").encode() + payload
    with unix_connect(sock_path, timeout) as s:
        s.sendall(req)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return _parse_reply(data)


def dechunk(data):
    """The body of a chunked response received so far (complete chunks only)."""
    rest = data.partition(b"\r\n\r\n")[2]
    body = b""
    while b"\r\n" in rest:
        size_line, _, after = rest.partition(b"\r\n")
        try:
            n = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if n == 0 or len(after) < n + 2:
            break
        body += after[:n]
        rest = after[n + 2:]
    return body


class EventStream:
    """A GET /v1/events subscriber reading in a thread. lines(): the JSON
    lines received so far (raw bytes); events(): parsed, snapshots left out;
    transitions(NAME): (from, to) of that service's state changes; closed():
    the server ended the stream."""

    def __init__(self, d):
        self.buf = bytearray()
        self.ended = threading.Event()
        self.done = threading.Event()
        self.head = b""
        self.sock = unix_connect(os.path.join(d, ".reins", "reins.sock"), timeout=30)
        self.sock.sendall(b"GET /v1/events HTTP/1.1\r\nHost: reins\r\n\r\n")
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self):
        self.sock.settimeout(0.2)
        while not self.done.is_set():
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            self.buf.extend(chunk)
        self.ended.set()

    def started(self, timeout=10):
        """True once the head and the snapshot lines arrived."""
        return wait_for(lambda: b"\r\n\r\n" in self.buf and self.lines(), timeout)

    def head_text(self):
        return bytes(self.buf).split(b"\r\n\r\n", 1)[0].decode(errors="replace")

    def closed(self):
        return self.ended.is_set() and not self.done.is_set()

    def lines(self):
        return [l for l in dechunk(bytes(self.buf)).split(b"\n") if l.strip()]

    def events(self):
        out = []
        for line in self.lines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"unparsable": line.decode(errors="replace")})
        return [e for e in out if not e.get("snapshot")]

    def transitions(self, name):
        return [(e.get("from"), e.get("to")) for e in self.events()
                if e.get("service") == name and e.get("from") != e.get("to")]

    def close(self):
        self.done.set()
        self.sock.close()
        self.thread.join(5)
