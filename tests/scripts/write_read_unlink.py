# Writes 12345 bytes to the file argv[1], reads them back, removes it.
import os, sys
path = sys.argv[1]
with open(path, 'wb') as f: f.write(b'w' * 12345)
with open(path, 'rb') as f: assert len(f.read()) == 12345
os.unlink(path)
