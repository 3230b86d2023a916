# One keep-alive connection to (argv[1], 8080), opened before podtop starts:
# a request /before answered at once, then /in-flight, sent before podtop
# starts and answered after ("in flight" is printed once it is sent). After
# its answer, "waiting BYTES" (the answer's size); then, at a line on stdin, argv[2] requests
# /after/0.. and "counted TX RX": the bytes sent and received since
# /in-flight was sent (what podtop, adopting the connection while its answer
# was held, can count). Closes at the end of stdin.
import socket, sys

c = socket.create_connection((sys.argv[1], 8080))
sent = received = 0

def ask(path):
  global sent, received
  request = b'GET %s HTTP/1.1\r\nHost: api\r\n\r\n' % path.encode()
  c.sendall(request); sent += len(request)
  response = b''
  while b'\r\n\r\n' not in response:
    response += c.recv(4096)
  head, body = response.split(b'\r\n\r\n', 1)
  length = int(head.split(b'Content-Length: ')[1].split(b'\r\n')[0])
  while len(body) < length:
    body += c.recv(4096)
  received += len(head) + 4 + len(body)

ask('/before')
sent = received = 0
request = b'GET /in-flight HTTP/1.1\r\nHost: api\r\n\r\n'
print('in flight', flush=True)
# The answer comes once the test tells the server: the request is written
# now, its answer read below through ask's reading part.
c.sendall(request)
response = b''
while b'\r\n\r\n' not in response:
  response += c.recv(4096)
head, body = response.split(b'\r\n\r\n', 1)
while len(body) < 300:
  body += c.recv(4096)
received += len(head) + 4 + len(body)
print('waiting', received, flush=True)
sys.stdin.readline()
for i in range(int(sys.argv[2])):
  ask('/after/%d' % i)
print('counted', sent, received, flush=True)
sys.stdin.read()
c.close()
