# The other end of pod_server.py at argv[1]: 1,000,000 bytes over TCP, the
# 500 back, three 100-byte datagrams; then a loopback connection inside the pod.
import socket, sys
addr = sys.argv[1]
c = socket.create_connection((addr, 8080)); c.sendall(b"x" * 1000000); c.shutdown(socket.SHUT_WR)
while c.recv(65536): pass
c.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.connect((addr, 5353))
for _ in range(3): u.send(b"z" * 100)
# loopback inside the pod: never crosses the pod's boundary
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
k = socket.create_connection(l.getsockname()); a, _ = l.accept(); k.sendall(b"q" * 10); a.recv(10); k.close(); a.close()
