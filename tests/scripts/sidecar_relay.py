# A relay on 127.0.0.1:15001 in front of (argv[1], 8080): each connection's
# 100-byte request passed on, and the 1000-byte response handed back 5 ms
# after it came. Prints "ready" once it listens.
import socket,sys,time
backend = sys.argv[1]
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', 15001)); s.listen(128)
print('ready', flush=True)
while True:
  a,_=s.accept(); req=b''
  while len(req) < 100:
    d=a.recv(100-len(req))
    if not d: break
    req+=d
  u=socket.create_connection((backend, 8080)); u.sendall(req); resp=b''
  while len(resp) < 1000:
    d=u.recv(4096)
    if not d: break
    resp+=d
  u.close(); time.sleep(0.005); a.sendall(resp); a.close()
