# Runs podtop's TUI (argv[1]) on a pseudo-terminal that this process holds;
# argv[2] is what it does once the TUI drew its first screen. Prints podtop's
# pid, then "gone" when the pty's master side is closed; or, where podtop
# ends before its first screen, "ended: " and what it wrote (its stderr is
# the pty too).
import fcntl, os, pty, signal, struct, sys, termios, time
podtop, then = sys.argv[1], sys.argv[2]
pid, master = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    if then == "close-ignoring-hangups":
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    os.execv(podtop, [podtop])
print(pid, flush=True)
seen = b""
while len(seen) < 4000:  # the first screen (the TUI draws it cell by cell, with escapes)
    try:
        chunk = os.read(master, 65536)
    except OSError:  # EIO: the other side is closed
        chunk = b""
    if not chunk:
        print("ended:", seen.decode(errors="replace").replace("\r", "").replace("\n", " | "), flush=True)
        sys.exit(1)
    seen += chunk
if then == "stall":
    # Never read again: the terminal stops taking output. Keys that redraw
    # much of the screen (help on, help off) fill its buffer.
    for i in range(400):
        os.write(master, b"?")
        time.sleep(0.01)
    time.sleep(60)
else:
    os.close(master)
    print("gone", flush=True)
    time.sleep(60)
