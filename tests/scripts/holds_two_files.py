# Opens argv[1] and reads 10 bytes of it, opens argv[2] to write, says
# "ready"; on a line on stdin, writes argv[2] 100 bytes at a time, 300 times,
# 10 ms apart, says "done", and sleeps.
import sys, time
f = open(sys.argv[1], 'rb'); f.read(10)
r = open(sys.argv[2], 'wb')
print('ready', flush=True); sys.stdin.readline()
for _ in range(300): r.write(b'w' * 100); r.flush(); time.sleep(0.01)
print('done', flush=True); time.sleep(60)
