# 20 connections to (argv[1], 7000), 50 ms apart: 100 bytes out, one read back.
import socket,sys,time
for i in range(20):
  c=socket.create_connection((sys.argv[1],7000)); c.sendall(b'q'*100); c.recv(4096); c.close(); time.sleep(0.05)
