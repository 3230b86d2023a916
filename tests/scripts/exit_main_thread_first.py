# A process whose main thread ends first; its other thread ends it, code 0.
import threading, time, sys
t = threading.Thread(target=lambda: (time.sleep(0.2), sys.exit(0)))
t.start()
import ctypes; ctypes.CDLL(None).pthread_exit(None)
