# Four UDP datagrams of 77 bytes over loopback, sent on a connected socket
# and received; prints the sender's port.
import socket
r=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); r.bind(('127.0.0.1',0))
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.connect(r.getsockname())
[s.send(b'u'*77) for _ in range(4)]
[r.recv(2048) for _ in range(4)]
print(s.getsockname()[1])
