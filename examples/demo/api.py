"""The demo API: GET /health, GET /api/hello, POST /shutdown (reins' stop.http).

Listens on 127.0.0.1:$PORT (reins picks a free port) and writes
site/config.json so the static site knows where the API is.
"""
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ["PORT"])
HERE = os.path.dirname(os.path.abspath(__file__))


class Api(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            self.answer(200, {"ok": True})
        elif self.path == "/api/hello":
            self.answer(200, {"hello": "from the api", "pid": os.getpid()})
        else:
            self.answer(404, {"error": "no such path"})

    def do_POST(self):
        if self.path == "/shutdown":
            self.answer(200, {"ok": True, "bye": True})
            print("api: shutdown requested, exiting", flush=True)
            threading.Thread(target=self.server.shutdown).start()
        else:
            self.answer(404, {"error": "no such path"})

    def log_message(self, fmt, *args):
        print("api: " + fmt % args, file=sys.stderr, flush=True)


with open(os.path.join(HERE, "site", "config.json"), "w") as f:
    json.dump({"api": f"http://127.0.0.1:{PORT}"}, f)
server = ThreadingHTTPServer(("127.0.0.1", PORT), Api)
print(f"api: listening on 127.0.0.1:{PORT}", flush=True)
server.serve_forever()
