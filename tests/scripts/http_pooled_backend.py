# An HTTP/1.1 keep-alive backend on every address, port 8080, for a proxy
# that pools its connections: each request on a connection gets a 200 with
# 1000 bytes, head and body in one write, until the proxy closes. A thread
# per connection. Prints "ready" once it listens.
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 8080)); s.listen(128)
response = b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n' + b'r' * 1000
print('ready', flush=True)

def serve(c):
  c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
  pending = b''
  while True:
    while b'\r\n\r\n' not in pending:
      d = c.recv(4096)
      if not d:
        c.close(); return
      pending += d
    pending = pending.split(b'\r\n\r\n', 1)[1]
    c.sendall(response)

while True:
  c, _ = s.accept()
  threading.Thread(target=serve, args=(c,), daemon=True).start()
