# Holds argv[1] idle TCP connections on loopback until its stdin closes:
# each connected to a listener of its own on 127.0.0.1 and accepted, then
# neither end sends. Two processes hold the two ends (a forked child the
# connecting ones), each with its open-files limit raised to the hard limit,
# which root cannot raise here. Prints "ready N" once every connection is
# open at both ends. The accepting ends close first, so that the TIME_WAITs
# left behind take no ephemeral ports from later runs.
import os, resource, socket, sys
n = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
assert hard >= n + 64, f'{n} connections need {n + 64} open files at each end; the hard limit is {hard}'
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
listener = socket.socket(); listener.bind(('127.0.0.1', 0)); listener.listen(4096)
port = listener.getsockname()[1]
opened_r, opened_w = os.pipe()
closed_r, closed_w = os.pipe()
child = os.fork()
if child == 0:
  listener.close(); os.close(opened_r); os.close(closed_w)
  connected = [socket.create_connection(('127.0.0.1', port)) for _ in range(n)]
  os.write(opened_w, b'x')
  os.read(closed_r, 1)
  os._exit(0)
os.close(opened_w); os.close(closed_r)
accepted = [listener.accept()[0] for _ in range(n)]
assert os.read(opened_r, 1) == b'x', 'the connecting end failed'
print('ready', n, flush=True)
sys.stdin.read()
for c in accepted:
  c.close()
os.close(closed_w)
os.waitpid(child, 0)
