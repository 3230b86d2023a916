# One connection to (argv[1], argv[2]) for all its requests: for each phase
# "DELAY:SECONDS" of argv[3:], 100-byte requests that start with DELAY, each
# waiting for its 1000-byte response, for SECONDS. Prints "phase DELAY
# UNIX_NS" as each phase starts and "done REQUESTS" at the end; with --hold,
# keeps the connection open until its stdin closes.
import socket, sys, time
args = [a for a in sys.argv[1:] if a != '--hold']
addr, port, phases = args[0], int(args[1]), args[2:]
c = socket.create_connection((addr, port))
requests = 0
for phase in phases:
  delay, seconds = phase.split(':')
  print('phase', delay, time.time_ns(), flush=True)
  request = (delay + ' ').encode().ljust(100, b'q')
  end = time.monotonic() + float(seconds)
  while time.monotonic() < end:
    c.sendall(request); n = 0
    while n < 1000:
      d = c.recv(4096)
      assert d, 'closed by the relay'
      n += len(d)
    assert n == 1000, n
    requests += 1
print('done', requests, flush=True)
if '--hold' in sys.argv:
  sys.stdin.read()
c.close()
