#!/usr/bin/env python3
"""ptyrun.py STEP... -- CMD...: runs CMD on a new pseudo-terminal (its controlling terminal,
stdin, stdout and stderr), doing each STEP in turn: wait:TEXT (until TEXT appears in the
output), send:TEXT (typed, with \\n, \\x03... as in Python), sleep:SECONDS, kill:SIGNAME
(to CMD). Once CMD has exited, prints its output, then a last line with its status and the
terminal's modes as it left them: "status=3 icanon=on echo=on" (status=-N for a signal N). Gives up after 30 s."""
import fcntl, os, select, signal, sys, termios, time

steps, cmd = sys.argv[1:sys.argv.index("--")], sys.argv[sys.argv.index("--") + 1:]
master, slave = os.openpty()
pid = os.fork()
if pid == 0:
    os.setsid()
    os.close(master)
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    # as a terminal's shell starts it: a background job of a script has these ignored
    for sig in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)
    os.execvp(cmd[0], cmd)
out, deadline, status = b"", time.monotonic() + 30, None


def pump(wait):
    """reads what the terminal has (for up to `wait` s); False once CMD has exited"""
    global out, status
    if select.select([master], [], [], wait)[0]:
        out += os.read(master, 65536)
    if status is None:
        p, st = os.waitpid(pid, os.WNOHANG)
        if p:
            status = os.waitstatus_to_exitcode(st)
    return status is None


for step in steps:
    kind, arg = step.split(":", 1)
    if kind == "wait":
        while arg.encode() not in out and pump(0.05) and time.monotonic() < deadline:
            pass
    elif kind == "send":
        os.write(master, arg.encode().decode("unicode_escape").encode("latin-1"))
    elif kind == "sleep":
        time.sleep(float(arg))
    elif kind == "kill":
        os.kill(pid, getattr(signal, "SIG" + arg))
while pump(0.05) and time.monotonic() < deadline:
    pass
while select.select([master], [], [], 0)[0]:  # what is left
    out += os.read(master, 65536)
if status is None:
    os.kill(pid, signal.SIGKILL)
    status = "timeout"
mode = termios.tcgetattr(slave)[3]
sys.stdout.write(out.decode("utf-8", "replace").replace("\r\n", "\n"))
print("\nstatus=%s icanon=%s echo=%s" % (status, "on" if mode & termios.ICANON else "off",
                                         "on" if mode & termios.ECHO else "off"))
