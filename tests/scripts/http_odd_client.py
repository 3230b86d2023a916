# Bytes that are not HTTP/1 requests, or are, oddly sent; each on its own
# connection to (argv[1], argv[2]). Prints "done".
import sys, socket, time
def conn():
    return socket.create_connection((sys.argv[1], int(sys.argv[2])))
def drain(s):
    s.settimeout(1)
    try:
        while s.recv(65536): pass
    except OSError: pass
    s.close()
s = conn(); s.sendall(bytes(range(256)) * 4); s.shutdown(socket.SHUT_WR); drain(s)
s = conn(); s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00" * 64); s.shutdown(socket.SHUT_WR); drain(s)
s = conn()
for b in b"GET /bytewise HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n":
    s.send(bytes([b])); time.sleep(0.001)
drain(s)
s = conn(); s.sendall(b"GET /caf\xe9?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); drain(s)
s = conn(); s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100000 + b"\r\nConnection: close\r\n\r\n"); drain(s)
s = conn(); s.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); drain(s)
print("done", flush=True)
