# A server that takes one TCP connection on (argv[1] address, argv[2] port),
# IPv4 or IPv6, prints "ready", then the bytes it received once the client
# closed.
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen()
print("ready", flush=True)
c, _ = s.accept(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
c.close(); print(n, flush=True)
