# On argv[1]: a TCP server on 8080 that takes one connection, counts what it
# receives and answers 500 bytes, and a UDP socket on 5353 that takes three
# datagrams. Prints "ready", then the TCP and UDP byte counts.
import socket, sys
addr = sys.argv[1]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((addr, 8080)); s.listen()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((addr, 5353))
print("ready", flush=True)
c, _ = s.accept(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
c.sendall(b"y" * 500); c.close()
got = sum(len(u.recv(2048)) for _ in range(3))
print(n, got, flush=True)
