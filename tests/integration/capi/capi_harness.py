"""The shared part of the C ABI tests: libreins loaded through ctypes with
the signatures of reins.h, helpers around its calls, processes and ports,
and the runner of a script's test_* functions.

A test script is run as `python3 X_test.py LIBREINS FIXTURE [test_name...]`.
"""
import ctypes
import json
import os
import signal
import socket
import sys
import time
import traceback

LIB_PATH = sys.argv[1]
FIXTURE = sys.argv[2]
ONLY = sys.argv[3:]

lib = ctypes.CDLL(LIB_PATH)
vp = ctypes.c_void_p
cp = ctypes.c_char_p
msgp = ctypes.POINTER(ctypes.c_void_p)
for name, res, args in [
    ("reins_open", vp, [cp, msgp]),
    ("reins_open_file", vp, [cp, cp, msgp]),
    ("reins_open_text", vp, [cp, cp, cp, msgp]),
    ("reins_add_file", ctypes.c_int, [vp, cp, msgp]),
    ("reins_add_text", ctypes.c_int, [vp, cp, cp, msgp]),
    ("reins_start", ctypes.c_int, [vp, cp, ctypes.c_int, msgp]),
    ("reins_stop", ctypes.c_int, [vp, cp, ctypes.c_int, msgp]),
    ("reins_restart", ctypes.c_int, [vp, cp, ctypes.c_int, msgp]),
    ("reins_status", vp, [vp]),
    ("reins_event_fd", ctypes.c_int, [vp]),
    ("reins_events", vp, [vp]),
    ("reins_close", None, [vp]),
    ("reins_free", None, [vp]),
    ("reins_version", cp, []),
]:
    f = getattr(lib, name)
    f.restype = res
    f.argtypes = args


def take(p):
    """A string the library returned, freed."""
    if not p:
        return None
    try:
        return ctypes.string_at(p).decode()
    finally:
        lib.reins_free(p)


def call(fn, *args):
    """fn(*args, &message) -> (code or handle, message)."""
    m = ctypes.c_void_p()
    r = fn(*args, ctypes.byref(m))
    return r, take(m.value)


def enc(s):
    return None if s is None else s.encode()


def status(h):
    s = take(lib.reins_status(h))
    return None if s is None else json.loads(s)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def kill_pids(pids):
    for p in pids:
        if p and alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fixture_toml(name="api", extra=""):
    return f"""version = 1
[service.{name}]
command = ["{FIXTURE}", "--port", "${{PORT}}"]
port = "auto"
ready = {{ http = "/ready" }}
stop = {{ timeout = "2s" }}
{extra}
"""


def main(module_globals):
    """Runs the test_* functions of `module_globals` (those named on the
    command line, if any), in name order; exit 1 if one failed."""
    tests = [(n, f) for n, f in sorted(module_globals.items()) if n.startswith("test_") and callable(f)]
    if ONLY:
        tests = [(n, f) for n, f in tests if n in ONLY]
    failed = 0
    for name, fn in tests:
        t0 = time.monotonic()
        try:
            fn()
            print(f"ok   {name} ({time.monotonic() - t0:.1f}s)", flush=True)
        except Exception:  # noqa: BLE001 - every failure is printed
            failed += 1
            print(f"FAIL {name}", flush=True)
            traceback.print_exc()
    print(f"{len(tests) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
