# argv[3] HTTP/1.1 GETs to (argv[1], argv[2]), each on its own connection
# (Connection: close), each read to the end before the next. Prints
# "done REQUESTS TX_BYTES RX_BYTES": every byte it sent and received.
import socket, sys
addr, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tx = rx = 0
for i in range(count):
  c = socket.create_connection((addr, port))
  request = b'GET /item/%d HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n' % i
  c.sendall(request); tx += len(request)
  got = b''
  while True:
    d = c.recv(65536)
    if not d: break
    got += d
  assert got.startswith(b'HTTP/1.1 200') and got.endswith(b'r' * 1000), got[:200]
  rx += len(got)
  c.close()
print('done', count, tx, rx, flush=True)
