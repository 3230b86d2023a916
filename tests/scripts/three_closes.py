# Three ways a TCP connection ends, with the bytes each end wrote and read:
# the client closes first; the server closes first and the client reads end
# of file; a half-close (shutdown) and more data back. Prints the client
# ports of the three connections.
import socket
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen()
ports = []
def pair():
    c = socket.create_connection(l.getsockname()); a, _ = l.accept()
    ports.append(c.getsockname()[1]); return c, a
def read_all(s, n=None):
    got = 0
    while n is None or got < n:
        d = s.recv(65536)
        if not d: break
        got += len(d)
    return got
c, a = pair(); c.sendall(b'f' * 5000); assert read_all(a, 5000) == 5000
a.sendall(b'r' * 300); assert read_all(c, 300) == 300; c.close(); assert a.recv(10) == b''; a.close()
c, a = pair(); c.sendall(b'g' * 7000); assert read_all(a, 7000) == 7000
a.sendall(b's' * 123); a.close(); assert read_all(c) == 123; c.close()
c, a = pair(); c.sendall(b'h' * 999); c.shutdown(socket.SHUT_WR); assert read_all(a) == 999
a.sendall(b't' * 4444); a.close(); assert read_all(c) == 4444; c.close()
print(*ports)
