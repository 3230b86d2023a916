# A relay on 127.0.0.1:15001 in front of (argv[1], 8080) that keeps both its
# connections open: it accepts one connection, opens one upstream, and passes
# each 100-byte request on and the 1000-byte response back, holding the
# response the seconds the request starts with ("0.002 ..."). It measures the
# time each request spends in it (received from the app to answered, less the
# upstream's round trip), and when the app closes prints, per delay asked,
# "DELAY MEDIAN_NS COUNT". Prints "ready" once it listens.
import socket, statistics, sys, time
backend = sys.argv[1]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', 15001)); s.listen(1)
print('ready', flush=True)
a, _ = s.accept()
u = socket.create_connection((backend, 8080))
held = {}

def read(c, size):
  got = b''
  while len(got) < size:
    d = c.recv(size - len(got))
    if not d: return None
    got += d
  return got

while True:
  req = read(a, 100)
  if req is None: break
  delay = req.split(b' ')[0].decode()
  t0 = time.monotonic_ns()
  u.sendall(req)
  up0 = time.monotonic_ns(); resp = read(u, 1000); up = time.monotonic_ns() - up0
  time.sleep(float(delay))
  a.sendall(resp)
  held.setdefault(delay, []).append(time.monotonic_ns() - t0 - up)
u.close(); a.close()
for delay, times in held.items():
  print(delay, int(statistics.median(times)), len(times))
