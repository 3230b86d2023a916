# A keep-alive backend on every address, port 8080: on each connection, every
# 100-byte request gets 1000 bytes back, argv[1] seconds later (none given: at
# once), until the client closes. Prints "ready" once it listens.
import socket, sys, threading, time
delay = float(sys.argv[1]) if len(sys.argv) > 1 else 0
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 8080)); s.listen(128)
print('ready', flush=True)

def serve(c):
  while True:
    n = 0
    while n < 100:
      d = c.recv(100 - n)
      if not d:
        c.close(); return
      n += len(d)
    if delay: time.sleep(delay)
    c.sendall(b'r' * 1000)

while True:
  c, _ = s.accept()
  threading.Thread(target=serve, args=(c,), daemon=True).start()
