# Opens the file argv[1] names, writes 100 bytes and closes it, argv[2]
# times, 20 ms apart; says "ready" after the first write.
import sys, time
path, times = sys.argv[1], int(sys.argv[2])
for i in range(times):
    with open(path, "ab", buffering=0) as f:
        f.write(b"x" * 100)
    if i == 0:
        print("ready", flush=True)
    time.sleep(0.02)
