# Eight threads that end together with the process, which exits with code 7.
import threading, os, time
b = threading.Barrier(9)
def run():
    b.wait(); time.sleep(0.01)
for _ in range(8): threading.Thread(target=run).start()
b.wait(); os._exit(7)
