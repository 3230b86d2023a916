# COUNT exchanges with ADDR:PORT (argv), one connection each: 100 bytes
# out, 1000 back. Prints how many completed.
import socket, sys

addr, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
done = 0
for _ in range(count):
    c = socket.create_connection((addr, port))
    c.sendall(b"q" * 100)
    n = 0
    while n < 1000:
        d = c.recv(4096)
        if not d:
            break
        n += len(d)
    assert n == 1000, n
    c.close()
    done += 1
print(done, flush=True)
