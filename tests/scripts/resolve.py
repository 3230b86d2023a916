# The first IPv4 address glibc's getaddrinfo gives for argv[1].
import socket, sys
print(socket.getaddrinfo(sys.argv[1], 80, socket.AF_INET)[0][4][0])
