# python3's http.server on (argv[1], argv[2]), HTTP/1.1 keep-alive: /ok,
# /missing (404), /err (500), /slow (50 ms, then 200), POST /submit (reads
# its body). A thread per connection: a proxy in front keeps idle connections
# open beside the one it sends the next request on. Prints "ready".
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/slow":
            time.sleep(0.05)
        status = {"/ok": 200, "/slow": 200, "/err": 500}.get(path, 404)
        self.answer(status, b"x" * (100 if status == 200 else 10))
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.answer(200, b"stored")
    def log_message(self, *a):
        pass
class S(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # haproxy resets the idle connections it closes: not an error here.
        if not isinstance(sys.exc_info()[1], ConnectionResetError):
            super().handle_error(request, client_address)
s = S((sys.argv[1], int(sys.argv[2])), H)
print("ready", flush=True)
s.serve_forever()
