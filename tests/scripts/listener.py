# Accepts connections on (argv[1], argv[2]) and closes them at once, for
# good; "ready" once it listens.
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen()
print("ready", flush=True)
while True:
    c, _ = s.accept(); c.close()
