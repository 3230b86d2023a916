"""HTTP/2 bytes no server should see (tests/http2.rs), each on its own
connection to (argv[1], argv[2]): the preface and random frames, the preface
alone, a request whose header block is past podtop's bound (10 KB), and a
HEADERS frame followed by a flood of 3000 CONTINUATION frames. Prints "done"."""
import random
import socket
import struct
import sys

import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS = struct.pack(">I", 0)[1:] + bytes([4, 0]) + struct.pack(">I", 0)


def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def send(data):
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(2)
        while s.recv(65536):
            pass
    except OSError:
        pass
    s.close()


rng = random.Random(7)
send(PREFACE + bytes(rng.randrange(256) for _ in range(4096)))
send(PREFACE)
big = hpack.Encoder().encode([(":method", "GET"), (":path", "/past-the-bound"), (":scheme", "http"),
                              (":authority", "odd"), ("x-big", "b" * 10000)])
send(PREFACE + SETTINGS + frame(1, 0x5, 1, big))
head = hpack.Encoder().encode([(":method", "GET"), (":path", "/flood"), (":scheme", "http"), (":authority", "odd")])
flood = b"".join(frame(9, 0, 1, b"\x40\x01a\x01b") for _ in range(3000))
send(PREFACE + SETTINGS + frame(1, 0x1, 1, head) + flood + frame(9, 0x4, 1, b""))
print("done", flush=True)
