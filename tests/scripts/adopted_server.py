# An HTTP/1.1 keep-alive server on every address, port 8080, for a
# connection older than podtop: each request gets a 200 with a body of 300
# bytes in one write, except /in-flight, whose answer waits for a line on
# stdin (so that podtop can start while it is in flight). Prints "ready" once
# it listens and "holding" when /in-flight arrives.
import socket, sys

s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 8080)); s.listen(8)
print('ready', flush=True)
c, _ = s.accept()
pending = b''
while True:
  while b'\r\n\r\n' not in pending:
    d = c.recv(4096)
    if not d:
      sys.exit(0)
    pending += d
  head, pending = pending.split(b'\r\n\r\n', 1)
  path = head.split(b' ')[1]
  if path == b'/in-flight':
    print('holding', flush=True)
    sys.stdin.readline()
  body = b'b' * 300
  c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % len(body) + body)
