# Opens PATH (argv[1]) for reading TIMES times (argv[2]); with a third
# argument "exclusive", then tries once to create it anew, which fails
# (EEXIST) because it exists.
import os, sys

path, times = sys.argv[1], int(sys.argv[2])
for _ in range(times):
    with open(path, "rb") as f:
        f.read()
if len(sys.argv) > 3 and sys.argv[3] == "exclusive":
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        sys.exit("created a file that existed")
    except FileExistsError:
        pass
print("done", flush=True)
