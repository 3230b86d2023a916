# An HTTP/1.1 server for the examples' tests, on 0.0.0.0:PORT (argv[1]):
# GET /ok and /health 200, /missing 404, /err 500; GET /orders 200, or 500
# with ?fail=1; POST /orders 201 and POST /submit 200 (each reads its body).
# Prints "ready" once it listens.
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/orders":
            status = 500 if query == "fail=1" else 200
        else:
            status = {"/ok": 200, "/health": 200, "/err": 500}.get(path, 404)
        self.answer(status, b"x" * (100 if status == 200 else 10))

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.answer({"/orders": 201, "/submit": 200}.get(self.path, 404), b"stored")

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Handler)
print("ready", flush=True)
server.serve_forever()
