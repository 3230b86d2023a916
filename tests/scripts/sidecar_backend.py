# A backend on every address, port 8080: each connection brings 100 bytes
# and gets 1000 back, argv[1] seconds later (none given: at once). Prints
# "ready" once it listens.
import socket,sys,time
delay = float(sys.argv[1]) if len(sys.argv) > 1 else 0
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 8080)); s.listen(128)
print('ready', flush=True)
while True:
  c,_=s.accept(); n=0
  while n < 100:
    d=c.recv(100-n)
    if not d: break
    n+=len(d)
  if delay: time.sleep(delay)
  c.sendall(b'r'*1000); c.close()
