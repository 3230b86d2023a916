# One connection to each port of argv[2..] at argv[1], closed at once.
import socket, sys
for port in sys.argv[2:]:
    socket.create_connection((sys.argv[1], int(port))).close()
