"""Shared helpers of the black-box tests of the real `reins` binary.

The test scripts are run as `python3 X_test.py PATH/TO/reins PATH/TO/reins-fixture`.
Each test gets a fresh temporary directory (its cwd and the home of its
`.reins` state directory); whatever the test started is stopped afterwards
even when it failed: `reins stop`, then SIGKILL to every process that is
ours — found by pid (state.json with a matching start time, reins.pid,
processes we spawned) and by the test's unique temp dir (in the cmdline or
as cwd), never by name.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

REINS = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else ""
FIXTURE = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else ""
ONLY = sys.argv[3:]  # optional: names of tests to run

failures = []
_current = {"dir": None, "pids": set(), "popens": []}


SANITIZER_RX = re.compile(r"ERROR: \w+Sanitizer|runtime error:")
# UBSan's vptr check probes the object's memory through a pipe(); a process
# out of file descriptors (the open-file-limit tests do that on purpose)
# cannot make one, and the check then reports a valid object as having an
# invalid vptr — always with "<memory cannot be printed>", which a real
# invalid vptr never shows (its memory is readable).
VPTR_PROBE_FAILED_RX = re.compile(r"[^\n]*runtime error: member call on address 0x[0-9a-f]+ which does not point to an "
                                  r"object of type '[^']*'\n0x[0-9a-f]+: note: object has invalid vptr\n"
                                  r"<memory cannot be printed>\n?")


def sanitizer_clean(text, what):
    """Fails the test when a sanitizer reported something in `text` (ASan/UBSan builds)."""
    text = VPTR_PROBE_FAILED_RX.sub("", text or "")
    m = SANITIZER_RX.search(text)
    if m:
        check(False, f"sanitizer report in {what}: {text[m.start():m.start() + 1200]}")
    return not m


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr, flush=True)
    return cond


def env_for(extra=None):
    e = dict(os.environ)
    e["NO_COLOR"] = "1"
    e.pop("REINS_STATE_DIR", None)
    e.pop("NOTIFY_SOCKET", None)
    e.update(extra or {})
    return e


def reins(args, cwd, timeout=60, env=None, preexec=None):
    """Runs reins to its end; a hang is a failed check, not a blocked test run."""
    try:
        r = subprocess.run([REINS] + args, cwd=cwd, env=env_for(env), capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL, preexec_fn=preexec)
        sanitizer_clean(r.stderr, f"reins {' '.join(args)}")
        return r
    except subprocess.TimeoutExpired as e:
        check(False, f"reins {' '.join(args)} did not end within {timeout}s")
        return subprocess.CompletedProcess(e.cmd, -999, _text(e.stdout), _text(e.stderr))


def _text(b):
    if b is None:
        return ""
    return b.decode(errors="replace") if isinstance(b, bytes) else b


def show(r):
    return f"exit {r.returncode}; stdout={r.stdout[-1500:]!r}; stderr={r.stderr[-1500:]!r}"


def write(d, name, text):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text)
    return p


def read(path, default=None):
    """The text of a file (bytes that are not UTF-8 as U+FFFD: logs keep what services wrote)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default


def toml_str(s):
    return json.dumps(s)  # a JSON string is a valid TOML basic string


def toml_cmd(argv):
    return "[" + ", ".join(toml_str(a) for a in argv) + "]"


# ---- processes ----------------------------------------------------------------

def proc_stat(pid):
    """(state, start_time) from /proc/PID/stat, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[19])


def alive(pid):
    if not pid or pid <= 0:
        return False
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def start_time(pid):
    st = proc_stat(pid)
    return st[1] if st else None


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def rss_kib(pid):
    for line in (read(f"/proc/{pid}/status") or "").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def wait_for(cond, timeout, step=0.02):
    until = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= until:
            return v
        time.sleep(step)


def wait_gone(pid, timeout=10):
    return wait_for(lambda: not alive(pid), timeout)


def daemons_of(state_dir):
    """Pids of `reins __daemon` processes whose cmdline names this state dir."""
    found = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        cl = cmdline(int(e))
        if "__daemon" in cl and any(state_dir in a for a in cl) and alive(int(e)):
            found.append(int(e))
    return found


def children_of(pid):
    """Pids of the live children of `pid`."""
    found = []
    for e in os.listdir("/proc"):
        if e.isdigit():
            st = read(f"/proc/{e}/stat", "")
            if st and int(st[st.rindex(")") + 2:].split()[1]) == pid and alive(int(e)):
                found.append(int(e))
    return found


def keepers_of(pid):
    """The keeper processes of supervisor `pid`: its children called reins-keeper."""
    return [c for c in children_of(pid) if (read(f"/proc/{c}/comm", "") or "").strip() == "reins-keeper"]


def kill_with_keeper(sup):
    """SIGKILL of supervisor `sup` together with its keeper process (docs/engine.md,
    "When the supervisor dies"): its services then survive it, as they would a
    supervisor whose keeper cannot see them, for the survivor handling of the
    next command to find. Frozen first, so that it cannot start a new keeper."""
    try:
        os.kill(sup, signal.SIGSTOP)
    except OSError:
        return
    for k in keepers_of(sup):
        _kill(k)
        wait_gone(k, 5)
    _kill(sup)


def track(pid):
    """A pid the cleanup kills (if it is still the same process)."""
    _current["pids"].add((pid, start_time(pid)))


def ours(d):
    """Pids of live processes that belong to test dir `d`: their cmdline names
    it or their cwd is inside it."""
    real = os.path.realpath(d)
    me = os.getpid()
    found = []
    for e in os.listdir("/proc"):
        if not e.isdigit() or int(e) == me:
            continue
        pid = int(e)
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            cwd = ""
        if cwd == real or cwd.startswith(real + "/") or any(real in a or d in a for a in cmdline(pid)):
            if alive(pid):
                found.append(pid)
    return found


def _kill(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def cleanup(d):
    # 1. Politely: reins stop on every state dir under d.
    for root, dirs, files in os.walk(d):
        if "reins.lock" in files or "state.json" in files or "reins.pid" in files:
            try:
                subprocess.run([REINS, "stop", "--state-dir", root], cwd=d, env=env_for(), capture_output=True,
                               timeout=30, stdin=subprocess.DEVNULL)
            except Exception:
                pass
    # 2. Foreground reins processes we started: kill their group.
    for p in _current["popens"]:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                p.wait(timeout=10)
            except Exception:
                pass
    # 3. Pids named in the state files (only if still the recorded process), and our own.
    victims = set()
    for root, dirs, files in os.walk(d):
        if "state.json" in files:
            try:
                snap = json.loads(read(os.path.join(root, "state.json"), "{}"))
                for s in snap.get("services", []):
                    pid, st = s.get("pid") or 0, s.get("pid_start_time")
                    if pid and alive(pid) and (st is None or start_time(pid) == st):
                        victims.add(pid)
            except Exception:
                pass
        if "reins.pid" in files:
            try:
                pid = int(read(os.path.join(root, "reins.pid"), "0").strip() or 0)
                if pid and any(d in a for a in cmdline(pid)):
                    victims.add(pid)
            except ValueError:
                pass
    for pid, st in _current["pids"]:
        if alive(pid) and start_time(pid) == st:
            victims.add(pid)
    victims.update(ours(d))
    for pid in victims:
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        _kill(pid)
    for pid in victims:
        wait_gone(pid, 5)
    # What the daemons said on their stderr (logs/reins.log), and reins run's stderr.
    for root, dirs, files in os.walk(d):
        if "reins.log" in files:
            sanitizer_clean(read(os.path.join(root, "reins.log"), ""), os.path.join(root, "reins.log"))
    left = ours(d)
    if left:
        print(f"warning: processes of {d} still alive after cleanup: {left}", file=sys.stderr)


# ---- foreground processes with captured output -------------------------------

class Fg:
    """A process (usually `reins run`) whose stdout and stderr are collected
    line by line by two threads; it runs in its own process group."""

    def __init__(self, argv, cwd, env=None):
        self.p = subprocess.Popen(argv, cwd=cwd, env=env_for(env), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        _current["popens"].append(self.p)
        self.out, self.err = [], []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._pump, args=(self.p.stdout, self.out), daemon=True),
                        threading.Thread(target=self._pump, args=(self.p.stderr, self.err), daemon=True)]
        for t in self.threads:
            t.start()

    def _pump(self, f, into):
        for line in iter(f.readline, b""):
            with self.lock:
                into.append(line.decode(errors="replace").rstrip("\n"))
        f.close()

    @property
    def pid(self):
        return self.p.pid

    def stdout_text(self):
        with self.lock:
            return "\n".join(self.out)

    def stderr_text(self):
        with self.lock:
            return "\n".join(self.err)

    def wait_line(self, pattern, timeout=30, stream="err", count=1):
        """The `count`-th match of regex `pattern` on stream err/out, or None."""
        rx = re.compile(pattern)
        lines = self.err if stream == "err" else self.out

        def found():
            with self.lock:
                ms = [m for m in (rx.search(l) for l in lines) if m]
            return ms[count - 1] if len(ms) >= count else None

        return wait_for(found, timeout, 0.02)

    def signal(self, sig):
        try:
            os.kill(self.p.pid, sig)
        except OSError:
            pass

    def wait(self, timeout):
        """Exit status, or None (then it is killed) when it did not end in time."""
        try:
            code = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except OSError:
                pass
            self.p.wait(timeout=10)
            code = None
        for t in self.threads:
            t.join(timeout=5)
        sanitizer_clean(self.stderr_text(), " ".join(self.p.args))
        return code


def run_fg(args, cwd, env=None):
    return Fg([REINS] + args, cwd, env)


# A readiness check passed: "reins: web ready on http://127.0.0.1:5173 (pid 4242, 0.84s)".
READY_RX = r"reins: (\S+) ready(?: on http://127\.0\.0\.1:(\d+))? \(pid (\d+), [0-9.]+s\)"
# No readiness check, only spawned: "reins: web started on port 5173 (pid 4242)"; same groups.
STARTED_RX = r"reins: (\S+) started(?: on port (\d+))? \(pid (\d+)\)"


def ready_lines(text):
    """{name: (port or None, pid)} from the ready lines (and the started
    lines of services without a readiness check) of `text`."""
    res = {}
    for rx in (READY_RX, STARTED_RX):
        for m in re.finditer(rx, text):
            res[m.group(1)] = (int(m.group(2)) if m.group(2) else None, int(m.group(3)))
    return res


# ---- network ------------------------------------------------------------------

def port_free(port):
    """True when nothing listens on 127.0.0.1:port (we can bind and listen there)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        s.listen(1)
        return True
    except OSError:
        return False
    finally:
        s.close()


def http_get(port, path="/", timeout=3):
    """Status code of GET http://127.0.0.1:port/path, or None when it fails."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            return int(data.split(b" ", 2)[1])
    except (OSError, ValueError, IndexError):
        return None


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


# ---- state dir ------------------------------------------------------------------

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


# ---- the runner -----------------------------------------------------------------

def main(module_globals, doc=""):
    if not REINS or not FIXTURE:
        print(f"usage: {sys.argv[0]} PATH/TO/reins PATH/TO/reins-fixture [TEST...]", file=sys.stderr)
        sys.exit(2)
    tests = [(k, v) for k, v in module_globals.items() if k.startswith("test_") and callable(v)]
    if ONLY:
        tests = [(k, v) for k, v in tests if k in ONLY]
    t_all = time.monotonic()
    for name, t in tests:
        d = tempfile.mkdtemp(prefix="reins-cli-")
        _current.update(dir=d, pids=set(), popens=[])
        n = len(failures)
        t0 = time.monotonic()
        try:
            t(d)
        except Exception:
            check(False, f"{name} raised:\n{traceback.format_exc()}")
        finally:
            try:
                cleanup(d)
            except Exception:
                print(f"warning: cleanup of {name} raised:\n{traceback.format_exc()}", file=sys.stderr)
            shutil.rmtree(d, ignore_errors=True)
        print(("ok  " if len(failures) == n else "FAIL") + f" {name} ({time.monotonic() - t0:.1f}s)", flush=True)
    print(f"{len(tests)} tests, {len(failures)} failed checks, {time.monotonic() - t_all:.1f}s")
    sys.exit(1 if failures else 0)
