"""Python services speaking sd_notify for the notify tests, and what reins
says of them (its status of a service, its logs)."""
import os

from reins_harness import read, service, status_json, wait_for, write

# The sd_notify client the tests' Python services import (written into each
# test's folder): one datagram per call, with BARRIER=1 as systemd-notify
# sends it — a pipe's write end passed along, closed by the receiver.
SDNOTIFY_PY = r'''
import array, os, select, socket

def _address():
    a = os.environ["NOTIFY_SOCKET"]
    return "\0" + a[1:] if a.startswith("@") else a

def notify(text, barrier=False, block=True):
    """Sends `text`; with barrier, waits (5 s at most) until reins has read it.
    block=False: never wait for room in the socket (False when it is full)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.connect(_address())
        try:
            s.send(text.encode(), 0 if block else socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        if barrier:
            r, w = os.pipe()
            s.sendmsg([b"BARRIER=1"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w]))])
            os.close(w)
            p = select.poll()
            p.register(r, select.POLLHUP)
            ok = bool(p.poll(5000))
            os.close(r)
            return ok
        return True
    finally:
        s.close()
'''


def setup(d, name, body):
    """Writes sdnotify.py and a service script `name` into d; its path."""
    write(d, "sdnotify.py", SDNOTIFY_PY)
    return write(d, name, "import os, sys, time, signal\nfrom sdnotify import notify\n" + body)


def sd(d):
    return os.path.join(d, ".reins")


def svc(d, name="web"):
    r, doc = status_json(d, [name])
    return service(doc, name) or {}


def wait_state(d, want, timeout=15, name="web"):
    return wait_for(lambda: svc(d, name).get("state") == want, timeout, 0.05)


def log_of(d, name="reins"):
    return read(os.path.join(sd(d), "logs", f"{name}.log"), "") or ""

