"""The desktop app's backend server, as its sidecar manager sees it.

Listens on 127.0.0.1:$PORT (the port reins chose) and answers:
  GET  /ready             503 while warming up (0.3 s), then 200
  GET  /health            200 — or never, after /admin/hang (a hung server)
  POST /admin/hang        makes /health hang from now on (reins restarts it)
  POST /admin/checkpoint  saves its state: a line in $CHECKPOINT_FILE (else on stdout)
  POST /admin/shutdown    answers, then exits cleanly
  GET  /                  who it is: {"pid": ..., "port": ...}
One line on stdout per request. Standard library only.
"""
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ["PORT"])
WARM_AT = time.monotonic() + 0.3
hung = threading.Event()


def checkpoint():
    line = f"checkpoint pid={os.getpid()} port={PORT} at={time.strftime('%H:%M:%S')}"
    path = os.environ.get("CHECKPOINT_FILE")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")
    else:
        print(line, flush=True)


class Backend(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/ready":
            warm = time.monotonic() >= WARM_AT
            self.answer(200 if warm else 503, {"ready": warm})
        elif self.path == "/health":
            while hung.is_set():
                time.sleep(3600)  # a thread stuck for good: the probe times out
            self.answer(200, {"ok": True})
        elif self.path == "/":
            self.answer(200, {"pid": os.getpid(), "port": PORT})
        else:
            self.answer(404, {"error": "no such path"})

    def do_POST(self):
        if self.path == "/admin/hang":
            hung.set()
            self.answer(200, {"hung": True})
        elif self.path == "/admin/checkpoint":
            checkpoint()
            self.answer(200, {"saved": True})
        elif self.path == "/admin/shutdown":
            self.answer(200, {"bye": True})
            threading.Thread(target=self.server.shutdown).start()
        else:
            self.answer(404, {"error": "no such path"})

    def log_message(self, fmt, *args):
        print(f"backend {os.getpid()}: {self.command} {self.path} -> {args[1] if len(args) > 1 else '?'}",
              flush=True)


def on_sigterm(signum, frame):
    print(f"backend {os.getpid()}: SIGTERM, exiting", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, on_sigterm)
server = ThreadingHTTPServer(("127.0.0.1", PORT), Backend)
server.daemon_threads = True  # a hung /health thread does not hold the exit
print(f"backend {os.getpid()}: listening on 127.0.0.1:{PORT}", flush=True)
server.serve_forever()
print(f"backend {os.getpid()}: shut down", flush=True)
