# argv[3] exchanges with (argv[1], argv[2]) of 100 bytes out and 1000 back,
# one connection each.
import socket, sys
addr, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(count):
  c=socket.create_connection((addr,port)); c.sendall(b'q'*100); n=0
  while n < 1000:
    d=c.recv(4096)
    if not d: break
    n+=len(d)
  assert n == 1000, n
  c.close()
