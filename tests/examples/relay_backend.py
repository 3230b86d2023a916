# A backend behind the sidecar, on 0.0.0.0:PORT (argv[1]): each connection
# sends 100 bytes and gets 1000 back. Prints "ready" once it listens.
import socket, sys

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(128)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    n = 0
    while n < 100:
        d = c.recv(100 - n)
        if not d:
            break
        n += len(d)
    c.sendall(b"r" * 1000)
    c.close()
