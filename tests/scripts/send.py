# Sends argv[3] bytes of argv[4] (one character) to (argv[1], argv[2]) on one
# connection, then closes it.
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2]))); c.sendall(sys.argv[4].encode() * int(sys.argv[3])); c.close()
