# A loopback connection whose client writes 5000 bytes and closes, read whole
# by the server end.
import socket
l=socket.socket(); l.bind(('127.0.0.1',0)); l.listen()
c=socket.create_connection(l.getsockname()); a,_=l.accept()
c.sendall(b'f'*5000); c.close()
n=0
while True:
  d=a.recv(65536)
  if not d: break
  n+=len(d)
assert n==5000
a.close()
