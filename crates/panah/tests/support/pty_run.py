# Runs a command in a pseudo-terminal and types $PASS when it asks for a passphrase.
# rage (like age) reads passphrases only from a terminal, never from a pipe.
import os, pty, sys, time, select
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out = b""; sent = False; deadline = time.time() + 30
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.5)
    if fd in r:
        try: data = os.read(fd, 4096)
        except OSError: break
        if not data: break
        out += data
        if not sent and b"assphrase" in out:
            time.sleep(0.2); os.write(fd, os.environ["PASS"].encode() + b"\r"); sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
