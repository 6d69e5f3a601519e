"""The demo worker: a background job runner that tells reins when it is
ready, and what it is doing, over sd_notify (NOTIFY_SOCKET): READY=1 once
it has "loaded", then a STATUS= line that `reins status` shows.

sd_notify is one datagram of KEY=VALUE lines to the Unix socket named by
$NOTIFY_SOCKET (a leading '@' means Linux's abstract namespace); reins
creates that socket because the config says `ready = { notify = true }`.
"""
import os
import signal
import socket
import sys
import time


def notify(text):
    address = os.environ["NOTIFY_SOCKET"]
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(address)
        s.send(text.encode())


def stop(signum, frame):
    notify("STOPPING=1")
    print("worker: stopping", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
print("worker: loading", flush=True)
time.sleep(0.3)  # pretend to load something
notify("READY=1\nSTATUS=idle, 0 jobs done")
print("worker: ready", flush=True)
done = 0
while True:
    time.sleep(2)
    done += 1
    notify(f"STATUS=idle, {done} jobs done")
