#!/usr/bin/env python3
"""A host process that embeds reins (the C ABI through ctypes) killed with
SIGKILL while its services run: nothing of them is left.

usage: capi_host_killed_test.py LIBREINS FIXTURE [test_name...]

Real library, real processes and sockets on loopback. Every process a test
starts is killed by pid in a finally block.
"""
import json
import os
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from capi_harness import LIB_PATH, alive, fixture_toml, free_port, kill_pids, main  # noqa: E402


HOST_CHILD = r"""
import ctypes, json, sys, time
lib = ctypes.CDLL(sys.argv[1])
lib.reins_open_text.restype = ctypes.c_void_p
lib.reins_open_text.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
lib.reins_start.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p)]
lib.reins_status.restype = ctypes.c_void_p
lib.reins_status.argtypes = [ctypes.c_void_p]
msg = ctypes.c_void_p()
h = lib.reins_open_text(sys.argv[2].encode(), None, None, ctypes.byref(msg))
assert h, ctypes.string_at(msg.value)
assert lib.reins_start(h, None, 15000, ctypes.byref(msg)) == 0, ctypes.string_at(msg.value)
print(ctypes.string_at(lib.reins_status(h)).decode(), flush=True)
time.sleep(600)
"""


def tagged_pids(sup_pid):
    """Processes whose REINS_INSTANCE names supervisor `sup_pid`."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        for kv in env:
            if kv.startswith(b"REINS_INSTANCE=") and f".{sup_pid}.".encode() in kv:
                found.append(int(d))
    return found


def bindable(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def test_host_killed_leaves_nothing():
    """A host process that embeds reins is SIGKILLed while its services
    (with setsid'd and double-forked grandchildren holding ports) run:
    within 1 s none of their processes is left and every port is free. 20 times."""
    worst = 0.0
    for round_ in range(20):
        mode = ["setsid", "double-fork"][round_ % 2]
        gport = free_port()
        toml = fixture_toml().replace('"${PORT}"]', f'"${{PORT}}", "--grandchild", "--grandchild-ignore-term", "--grandchild-mode", "{mode}", "--grandchild-port", "{gport}"]')
        env = dict(os.environ)
        host = subprocess.Popen([sys.executable, "-c", HOST_CHILD, LIB_PATH, toml], stdout=subprocess.PIPE, env=env)
        left = []
        try:
            line = host.stdout.readline().decode()
            assert line, f"round {round_}: the host printed nothing"
            st = json.loads(line)
            port = st[0]["port"]
            deadline = time.monotonic() + 5
            while bindable(gport) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert not bindable(gport), f"round {round_}: the grandchild never bound its port"
            before = tagged_pids(host.pid)
            assert len(before) >= 2, f"round {round_}: expected the service and its grandchild, found {before}"
            host.kill()
            host.wait()
            t0 = time.monotonic()
            while time.monotonic() - t0 < 1.0:
                left = [p for p in before if alive(p)]
                if not left and bindable(port) and bindable(gport):
                    break
                time.sleep(0.01)
            took = time.monotonic() - t0
            worst = max(worst, took)
            assert not left, f"round {round_} ({mode}): still alive after 1 s: {left}"
            assert bindable(port) and bindable(gport), f"round {round_}: a port is still taken after 1 s"
        finally:
            if host.poll() is None:
                host.kill()
                host.wait()
            kill_pids(tagged_pids(host.pid))
    print(f"  slowest of 20: {worst * 1000:.0f} ms")


if __name__ == "__main__":
    main(globals())
