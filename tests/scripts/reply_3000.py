# On (argv[1], 7000): each connection's first bytes answered with 3000, then closed.
import socket,sys
s=socket.socket(); s.bind((sys.argv[1], 7000)); s.listen()
while True:
  c,_=s.accept(); c.recv(100); c.sendall(b'r'*3000); c.close()
