#!/usr/bin/env bats
# The I/O, process and signal layer seen from the shell (SPEC §4, and §2's shutdown and
# SIGPIPE): async.stdin/stdout/stderr on pipes, files, a pty and a socket, fd 0-2 flags,
# exit 141 when the reader left, what children inherit, shutdown and os.exit killing and
# reaping children, signal listeners driven from outside. The API details are in
# tests/lua/streams.lua, process.lua and signals.lua.

load helpers

setup() {
    clean_environment
    # the system Python first: a version manager's shim costs a shell start per call
    if [ -x /usr/bin/python3 ]; then PATH=/usr/bin:$PATH; fi
    command -v python3 >/dev/null || skip "python3 is not installed"
}

teardown() {
    if [ -n "${pid:-}" ]; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}

# Skips the test unless command $1 is installed.
need() {
    command -v "$1" >/dev/null || skip "$1 is not installed"
}

# Prints 1 if descriptor $1 of the calling shell has O_NONBLOCK, else 0.
nonblock() {
    python3 -c 'import fcntl, os, sys
print(1 if fcntl.fcntl(int(sys.argv[1]), fcntl.F_GETFL) & os.O_NONBLOCK else 0)' "$1"
}

# Runs "$@" as a child of a subreaper (Python, prctl PR_SET_CHILD_SUBREAPER): when it has
# exited, processes it left behind come to the subreaper. Prints the command's stdout, then
# "status N", "orphans P..." (zombies it never reaped) and "alive P..." (the pids listed on
# its stdout that still exist). The command's stderr goes to $BATS_TEST_TMPDIR/err.
subreaper() {
    python3 - "$BATS_TEST_TMPDIR/err" "$@" <<'EOF'
import ctypes, os, subprocess, sys, time
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(36, 1, 0, 0, 0) != 0:    # PR_SET_CHILD_SUBREAPER
    print("status prctl-failed"); sys.exit(0)
with open(sys.argv[1], "w") as err:
    p = subprocess.run(sys.argv[2:], stdout=subprocess.PIPE, stderr=err, timeout=30)
out = p.stdout.decode()
sys.stdout.write(out)
time.sleep(0.2)
orphans = []
while True:
    try:
        pid, _ = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid == 0:
        break
    orphans.append(pid)
pids = [int(w) for w in out.split() if w.isdigit()]
alive = [q for q in pids if os.path.exists("/proc/%d" % q)]
for q in alive:
    os.kill(q, 9)
print("status", p.returncode)
print("orphans", *orphans)
print("alive", *alive)
EOF
}

# ---------------------------------------------------------------- standard streams

@test "stdin: lines() over a pipe" {
    run -0 --separate-stderr bash -c 'printf "a\nb\n\nlast" | "$1" -e "
        for l in async.stdin:lines() do print(\"got\", l) end
        print(\"end\")"' _ "$ASYNCRUN"
    assert_output "got	a
got	b
got	
got	last
end"
    assert_equal "$stderr" ""
}

@test "stdin: read 'L', a count, 'l', count past the end, then nil; 'a' gives ''" {
    run -0 bash -c 'printf "abc\ndef\nghij" | "$1" -e "
        local s = async.stdin
        io.write(string.format(\"%q %q %q %q %s %q %s\n\",
          s:read(\"L\"), s:read(2), s:read(\"l\"), s:read(10), s:read(1), s:read(\"a\"), s:read(\"l\")))"' \
        _ "$ASYNCRUN"
    assert_output '"abc\
" "de" "f" "ghij" nil "" nil'
}

@test "stdin: a count waits for all its bytes across writes; read_some does not wait" {
    run -0 bash -c '{ printf 12; sleep 0.2; printf 345; sleep 0.2; printf 6; } | "$1" -e "
        print(async.stdin:read(4))
        local t0 = async.now()
        local some = async.stdin:read_some()
        print(some, async.now() - t0 < 0.15)
        print(async.stdin:read_some(), async.stdin:read_some())"' _ "$ASYNCRUN"
    assert_output "1234
5	true
6	nil"
}

@test "stdin: a regular file works, big or empty; /dev/null is the end at once" {
    f=$BATS_TEST_TMPDIR/in.txt
    seq 1 50000 > "$f"
    export F=$f
    run -0 "$ASYNCRUN" -e '
        local n, last = 0
        for l in async.stdin:lines() do n = n + 1 last = l end
        print(n, last)' < "$f"
    assert_output "50000	50000"
    run -0 "$ASYNCRUN" -e 'local a = async.stdin:read("a") print(#a, a == io.open(os.getenv("F")):read("a"))' \
        < "$f"
    assert_output "$(wc -c < "$f")	true"
    : > "$BATS_TEST_TMPDIR/empty"
    run -0 "$ASYNCRUN" -e 'print(async.stdin:read("a"), async.stdin:read("l"))' < "$BATS_TEST_TMPDIR/empty"
    assert_output "	nil"
    run -0 "$ASYNCRUN" -e 'print(async.stdin:read("a"), async.stdin:read("l"))' < /dev/null
    assert_output "	nil"
}

@test "stdin is opened lazily: a script that never reads it leaves the input to the next reader" {
    run -0 bash -c 'printf "for cat\n" | { "$1" -e "print(\"asyncrun\")"; cat; }' _ "$ASYNCRUN"
    assert_output "asyncrun
for cat"
}

@test "async.stdout:write keeps program order with print and io.write (pipe and file)" {
    code='print("1") io.write("2\n") async.stdout:write("3\n") io.write("4") async.stdout:write("\n")
          print("5") async.sleep(0.01) async.stdout:write("6\n") print("7")'
    run -0 bash -c '"$1" -e "$2" | cat' _ "$ASYNCRUN" "$code"
    assert_output "$(seq 1 7)"
    "$ASYNCRUN" -e "$code" > "$BATS_TEST_TMPDIR/out"
    assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" "$(seq 1 7)"
    # appending to a file keeps what was there
    echo 0 > "$BATS_TEST_TMPDIR/app"
    "$ASYNCRUN" -e "$code" >> "$BATS_TEST_TMPDIR/app"
    assert_equal "$(cat "$BATS_TEST_TMPDIR/app")" "$(seq 0 7)"
}

@test "async.stderr:write comes after what print wrote before it" {
    run -0 bash -c '"$1" -e "print(\"out 1\") async.stderr:write(\"err 2\n\") print(\"out 3\")
        async.stderr:write(\"err 4\n\")" 2>&1 | cat' _ "$ASYNCRUN"
    assert_output "out 1
err 2
out 3
err 4"
}

@test "O_NONBLOCK never reaches the shared fd 0-2 of a pipe: during the run and after it" {
    run -0 bash -c '
        nb() { python3 -c "import fcntl,os,sys; print(fcntl.fcntl(int(sys.argv[1]), fcntl.F_GETFL) & os.O_NONBLOCK and 1 or 0)" "$1"; }
        printf "line\n" | {
            "$1" -e "
                print(async.stdin:read(\"l\"))
                async.stdout:write(\"written\n\")
                async.stderr:write(\"\")
                os.execute([[python3 -c \"import fcntl,os; print(\\\"during\\\", *(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK and 1 or 0 for fd in (0, 1, 2)))\" 2>&1]])" 2>&1
            echo "after $(nb 0) $(nb 1) $(nb 2)"
        } | cat' _ "$ASYNCRUN"
    assert_output "line
written
during 0 0 0
after 0 0 0"
}

@test "print after async.stdout was used still never loses output to a slow reader" {
    run -0 bash -c '"$1" -e "
        async.stdout:write(\"start\n\")
        local line = string.rep(\"p\", 1023)
        for i = 1, 1024 do print(line) end
        async.stdout:write(\"end\n\")" | (sleep 0.5; wc -c)' _ "$ASYNCRUN"
    assert_output "$((6 + 1024 * 1024 + 4))"
}

@test "a megabyte written to async.stdout reaches a slow reader whole" {
    run -0 bash -c '"$1" -e "
        local chunk = string.rep(\"x\", 1023) .. \"\n\"
        for i = 1, 1024 do async.stdout:write(chunk) end" | (sleep 0.5; wc -c)' _ "$ASYNCRUN"
    assert_output "1048576"
    # in one write too
    run -0 bash -c '"$1" -e "async.stdout:write(string.rep(\"y\", 1048576))" | (sleep 0.5; wc -c)' \
        _ "$ASYNCRUN"
    assert_output "1048576"
}

@test "a pty on fd 0-2: read a line, write, print; the terminal's flags stay blocking" {
    run -0 python3 - "$ASYNCRUN" <<'EOF'
import fcntl, os, pty, subprocess, sys
master, slave = pty.openpty()
script = r'''
local l = async.stdin:read("l")
async.stdout:write("got:", l, "\n")
os.execute([[python3 -c "import fcntl,os; print('during', *(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK and 1 or 0 for fd in (0, 1, 2)))"]])
print("print after")
'''
p = subprocess.Popen([sys.argv[1], "-e", script], stdin=slave, stdout=slave, stderr=slave)
os.write(master, b"typed\n")
p.wait(timeout=20)
after = 1 if fcntl.fcntl(slave, fcntl.F_GETFL) & os.O_NONBLOCK else 0
os.close(slave)
out = b""
while True:
    try:
        d = os.read(master, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
lines = [l for l in out.decode().replace("\r", "").split("\n") if l and l != "typed"]
print("status", p.returncode)
print(*lines, sep="\n")
print("after", after)
EOF
    assert_output "status 0
got:typed
during 0 0 0
print after
after 0"
}

@test "stdout a socket: a megabyte reaches a slow reader, and the socket stays blocking" {
    run -0 python3 - "$ASYNCRUN" <<'EOF'
import fcntl, os, socket, subprocess, sys, time
a, b = socket.socketpair()
p = subprocess.Popen([sys.argv[1], "-e",
    'for i = 1, 256 do async.stdout:write(string.rep("s", 4095) .. "\\n") end print("tail")'],
    stdout=b.fileno())
time.sleep(0.5)
n = 0
while True:
    d = a.recv(65536)
    if not d:
        break
    n += len(d)
    if n >= 1048576 + 5:
        break
p.wait(timeout=20)
print("status", p.returncode, "bytes", n)
print("nonblock", 1 if fcntl.fcntl(b.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK else 0)
EOF
    assert_output "status 0 bytes 1048581
nonblock 0"
}

# ---------------------------------------------------------------- the reader left: 141

@test "print into a pipe whose reader left: exit 141, nothing on stderr" {
    run -0 bash -c '"$1" -e "for i = 1, 1e5 do print(i) end" 2>"$2" | head -1
        echo "status ${PIPESTATUS[0]}"' _ "$ASYNCRUN" "$BATS_TEST_TMPDIR/err"
    assert_output "1
status 141"
    assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" ""
}

@test "async.stdout:write into a pipe whose reader left: exit 141, nothing on stderr" {
    run -0 bash -c '"$1" -e "for i = 1, 1e5 do async.stdout:write(i, \"\n\") end print(\"not reached\")" \
        2>"$2" | head -1
        echo "status ${PIPESTATUS[0]}"' _ "$ASYNCRUN" "$BATS_TEST_TMPDIR/err"
    assert_output "1
status 141"
    assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" ""
}

@test "output after the reader left, from a later step or from a task: exit 141 quietly, at once" {
    # (the sleeps after the writes: a run that went on would take 20 s)
    local t0=$SECONDS
    for code in 'async.sleep(0.3) print("late") async.sleep(5)' \
        'async.sleep(0.3) async.stdout:write("late") async.sleep(5)' \
        'async.spawn(function() async.sleep(0.3) for i = 1, 1e5 do io.write(i, "\n") end end) async.sleep(5)' \
        'async.sleep(0.3) for i = 1, 1e5 do io.write(i, "\n") end io.stderr:write("") async.sleep(5)'; do
        run -0 bash -c '"$1" -e "$2" 2>"$3" | true; echo "status ${PIPESTATUS[0]}"' \
            _ "$ASYNCRUN" "$code" "$BATS_TEST_TMPDIR/err"
        assert_output "status 141"
        assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" ""
    done
    [ $((SECONDS - t0)) -lt 12 ] || fail "took $((SECONDS - t0)) s"
}

@test "async.stderr:write into a pipe whose reader left: exit 141" {
    run -0 bash -c '"$1" -e "for i = 1, 1e5 do async.stderr:write(i, \"\n\") end" 2>&1 >/dev/null | head -1
        echo "status ${PIPESTATUS[0]}"' _ "$ASYNCRUN"
    assert_output "1
status 141"
}

@test "io.stderr:write into a pipe whose reader left: exit 141" {
    run -0 bash -c '"$1" -e "async.sleep(0.2) for i = 1, 1e5 do io.stderr:write(i, \"\n\") end" \
        2>&1 >/dev/null | true
        echo "status ${PIPESTATUS[0]}"' _ "$ASYNCRUN"
    assert_output "status 141"
}

# ---------------------------------------------------------------- what children inherit

@test "children start with default dispositions and an empty mask: yes | head -1 ends by SIGPIPE" {
    run -0 env --default-signal=PIPE,INT,TERM,HUP,QUIT "$ASYNCRUN" -e '
        local out = async.capture({ "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status" })
        local blk = out:match("SigBlk:%s*(%x+)")
        local ign = tonumber(out:match("SigIgn:%s*(%x+)"), 16)
        -- glibc posix_spawn leaves its internal signals 32 and 33 ignored in every child
        print(string.format("blocked %s ignored %x", blk, ign & ~0x180000000))
        print((async.capture({ "bash", "-c", "yes | head -1; echo ${PIPESTATUS[0]}" })))'
    assert_output "blocked 0000000000000000 ignored 0
y
141"
}

@test "signals ignored when asyncrun started stay ignored in its children" {
    run -0 env --default-signal=INT,QUIT,TERM --ignore-signal=HUP,PIPE "$ASYNCRUN" -e '
        local out = async.capture({ "grep", "^SigIgn", "/proc/self/status" })
        local ign = tonumber(out:match("SigIgn:%s*(%x+)"), 16) & ~0x180000000
        print(string.format("%x", ign))'
    # bit 0: SIGHUP, bit 12: SIGPIPE
    assert_output "1001"
}

@test "children inherit fd 0-2 and their pipes only (started with nothing else open)" {
    # a clean start: every descriptor above 2 closed before asyncrun runs
    run -0 python3 -c 'import os, sys
os.closerange(3, 65536)
os.execv(sys.argv[1], sys.argv[1:])' "$ASYNCRUN" -e '
        local srv = assert(async.tcp.listen("127.0.0.1", 0, function(s) s:read("a") end))
        local c = assert(async.tcp.connect("127.0.0.1", srv:port()))
        local sig = async.signal("USR2")
        local other = assert(async.exec({ "cat" }, { stdin = "pipe", stdout = "pipe" }))
        local _ = async.stdout, async.stderr
        local p = assert(async.exec({ "ls", "-l", "/proc/self/fd" }, { stdin = "pipe", stdout = "pipe" }))
        local fds = {}
        for l in p.stdout:lines() do
          local fd, target = l:match(" (%d+) %-> (.*)$")
          -- ls itself has its directory open
          if fd and not target:match("^/proc/%d+/fd$") then fds[#fds + 1] = fd end
        end
        p:wait()
        print(table.concat(fds, " "))
        other.stdin:close() other:wait() c:close() srv:close() sig:close()'
    assert_output "0 1 2"
}

@test "children inherit no descriptor asyncrun inherited or io.open opened" {
    run -0 bash -c 'exec 7</dev/null; "$1" -e "
        local f = assert(io.open(\"/dev/null\"))
        local out = async.capture({ \"ls\", \"/proc/self/fd\" })
        local fds = {}
        for fd in out:gmatch(\"%d+\") do fds[#fds + 1] = fd end
        print(table.concat(fds, \" \"))
        f:close()"' _ "$ASYNCRUN"
    # 0-2 and the one ls opens
    assert_output "0 1 2 3"
}

# ---------------------------------------------------------------- shutdown and os.exit

@test "shutdown kills (SIGKILL) and reaps children still running: no orphan, no zombie" {
    need python3
    run -0 subreaper "$ASYNCRUN" -e '
        for i = 1, 3 do print(async.exec({ "sleep", "30" }).pid) end
        local term = assert(async.exec({ "sh", "-c", "trap \"\" TERM; exec sleep 30" }))
        print(term.pid)
        io.stdout:flush()
        async.sleep(0.1)'
    assert_line "status 0"
    assert_line "orphans"
    assert_line "alive"
    assert_equal "${#lines[@]}" 7
}

@test "shutdown after an error in main, or SIGTERM, kills children too" {
    run -0 subreaper "$ASYNCRUN" -e '
        print(async.exec({ "sleep", "30" }).pid) io.stdout:flush()
        error("boom")'
    assert_line "status 1"
    assert_line "orphans"
    assert_line "alive"
    run -0 subreaper env --default-signal=TERM "$ASYNCRUN" -e '
        print(async.exec({ "sleep", "30" }).pid) io.stdout:flush()
        async.exec({ "sh", "-c", "sleep 0.2; kill -TERM $PPID" })
        async.sleep(30)'
    assert_line "status 143"
    assert_line "orphans"
    assert_line "alive"
}

@test "--debug reports each process shutdown closed" {
    run -0 --separate-stderr "$ASYNCRUN" --debug -e '
        local p = async.exec({ "sleep", "30" })
        print(p.pid)
        local done = async.exec({ "true" }) done:wait()'
    pid_left=$output
    stderr_has "asyncrun: debug: process $pid_left (still running: killed) was left open; shutdown closed it"
    assert_equal "$(grep -c 'was left open' <<< "$stderr")" 1
    # without --debug: silent
    run -0 --separate-stderr "$ASYNCRUN" -e 'async.exec({ "sleep", "30" })'
    assert_equal "$stderr" ""
}

@test "a child holding asyncrun's stdout does not keep the pipeline open after the run" {
    SECONDS=0
    run -0 bash -c '"$1" -e "async.exec({ \"sleep\", \"30\" }) print(\"main done\")" | cat' _ "$ASYNCRUN"
    assert_output "main done"
    [ "$SECONDS" -lt 10 ] || fail "the pipeline waited for the child: ${SECONDS} s"
}

@test "os.exit kills direct children still running, and keeps its status" {
    run -0 subreaper "$ASYNCRUN" -e '
        for i = 1, 2 do print(async.exec({ "sleep", "30" }).pid) end
        io.stdout:flush()
        async.spawn(function() async.sleep(0.05) os.exit(5) end)
        async.sleep(30)'
    assert_line "status 5"
    assert_line "orphans"
    assert_line "alive"
}

@test "--strict: a process left for shutdown to kill makes the exit status 1" {
    run --separate-stderr "$ASYNCRUN" --strict -e 'async.exec({ "sleep", "30" })'
    stderr_has "process"
    stderr_has "was left open; shutdown closed it"
    assert_equal "$status" 1
}

@test "--debug reports a signal listener shutdown closed" {
    run -0 --separate-stderr "$ASYNCRUN" --debug -e 'local l = async.signal("USR2")'
    stderr_has "asyncrun: debug: signal listener for USR2 was left open; shutdown closed it"
}

# ---------------------------------------------------------------- signals from outside

# Starts asyncrun on script $1 (arguments: the ready file) in the background, INT and TERM
# at their default disposition; $pid is its pid, the ready file $ready.
start() {
    ready=$BATS_TEST_TMPDIR/ready
    env --default-signal=INT,TERM "$ASYNCRUN" "$1" "$ready" > "$BATS_TEST_TMPDIR/out" \
        2> "$BATS_TEST_TMPDIR/err" 3>&- &
    pid=$!
}

# The script preamble: announce(what) appends a line to the ready file.
announce_lib='local function announce(what)
  local f = assert(io.open(arg[1], "a")) f:write(what, "\n") f:close()
end'

@test "an INT listener replaces the cancellation: SIGINT from outside, the run goes on, exit 0" {
    s=$(script <<EOF
$announce_lib
local l = async.signal("INT")
announce("ready")
print("got", async.timeout(10, l.wait, l))
announce("got")
async.sleep(0.2)
print("still running")
l:close()
announce("closed")
async.sleep(10)
print("not reached")
EOF
)
    start "$s"
    wait_for_line "$ready" ready
    kill -INT "$pid"
    wait_for_line "$ready" closed
    # with the listener closed, SIGINT cancels the main task again
    kill -INT "$pid"
    wait_exit 5
    assert_equal "$status" 130
    assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" "got	true
still running"
}

@test "a TERM listener replaces the cancellation: SIGTERM from outside, exit 0" {
    s=$(script <<EOF
$announce_lib
local l = async.signal("TERM")
announce("ready")
print("got", async.timeout(10, l.wait, l))
print("end")
EOF
)
    start "$s"
    wait_for_line "$ready" ready
    kill -TERM "$pid"
    wait_exit 5
    assert_equal "$status" 0
    assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" "got	true
end"
}

@test "USR2 sent 3 times before the first wait: 3 waits return without blocking" {
    s=$(script <<EOF
$announce_lib
local l = async.signal("USR2")
announce("ready")
while not io.open(arg[1] .. ".sent") do async.sleep(0.02) end
local t0 = async.now()
for i = 1, 3 do assert(async.timeout(2, l.wait, l)) end
print("3 waits", async.now() - t0 < 1)
print("a 4th", pcall(async.timeout, 0.1, l.wait, l))
EOF
)
    start "$s"
    wait_for_line "$ready" ready
    for i in 1 2 3; do kill -USR2 "$pid"; sleep 0.1; done
    touch "$ready.sent"
    wait_exit 10
    assert_equal "$status" 0
    assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" "3 waits	true
a 4th	false	timeout"
}

@test "a storm of 1000 SIGUSR2: the listener counts at least one, the process survives" {
    s=$(script <<EOF
$announce_lib
local l = async.signal("USR2")
local n = 0
local counter = async.spawn(function() while l:wait() do n = n + 1 end end)
announce("ready")
while not io.open(arg[1] .. ".sent") do async.sleep(0.02) end
async.sleep(0.3)
l:close()
counter:await()
print("deliveries", n)
EOF
)
    start "$s"
    wait_for_line "$ready" ready
    python3 -c 'import os, signal, sys
for _ in range(1000): os.kill(int(sys.argv[1]), signal.SIGUSR2)' "$pid"
    touch "$ready.sent"
    wait_exit 10
    assert_equal "$status" 0
    n=$(awk '/^deliveries/ { print $2 }' "$BATS_TEST_TMPDIR/out")
    [ -n "$n" ] && [ "$n" -ge 1 ] && [ "$n" -le 1000 ] || fail "deliveries: '$n'"
    echo "# deliveries counted out of 1000 sent: $n" >&3
}
