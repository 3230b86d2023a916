# A stub resolver of its own, as musl's is: one query for A of argv[3], id
# argv[4], sent to argv[1] port argv[2] with sendto on an unconnected socket,
# its answer read with recvfrom. Prints the answer's size, or "timeout".
import socket, struct, sys
server, port, name, qid = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.sendto(q, (server, port))
try:
    print(len(s.recvfrom(512)[0]))
except socket.timeout:
    print("timeout")
