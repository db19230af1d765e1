#!/usr/bin/env bats
# Output that never freezes the run and never fails silently (issue 23, items 1-3): closes
# that wait as a task does or linger, drains at the end bounded by --timeout, signals and the
# shutdown grace, write errors on stdout/stderr reported at exit, and the trace in order with
# the output on the same file or pipe.

load helpers

setup() {
    clean_environment
    pid=
}

teardown() {
    [ -n "${pid:-}" ] && kill -KILL "$pid" 2>/dev/null
    pkill -KILL -f "sleep 31[0-9]" 2>/dev/null || true
}

# Runs asyncrun in the background with the script on stdin of nothing, stdout in out, stderr
# in err; sets $pid.
start() {
    "$ASYNCRUN" "$@" >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" </dev/null &
    pid=$!
}

# Makes the fifo $1 and a reader that holds it open and never reads; $reader is its pid.
silent_fifo() {
    mkfifo "$1"
    sleep 30 <"$1" &
    reader=$!
}

# ------------------------------------------------------------------ closes never block

@test "a handler that gives up on a client that never reads returns, and the server goes on" {
    # the handler's stream is closed by <close> when it returns, with 1 MiB unsent: the close
    # waits in the handler's task only, the ticker keeps ticking, a second client is served
    local path=$BATS_TEST_TMPDIR/sock
    script=$(script <<EOF
local ticks = 0
async.spawn(function() while true do async.sleep(0.02) ticks = ticks + 1 end end)
local server = assert(async.unix.listen("$path", function(s)
  if s:read("l") == "slow" then
    pcall(async.timeout, 0.2, function() s:write(string.rep("x", 1 << 22)) end)
    s:write("bye\n")
  else
    s:write("hello\n")
  end
end))
local slow = assert(async.unix.connect("$path"))
slow:write("slow\n"):flush()
async.sleep(0.5)
local before = ticks
async.sleep(0.5)
print("ticking", ticks - before >= 5)
local fast = assert(async.unix.connect("$path"))
fast:write("fast\n"):flush()
print("served", fast:read("l"))
os.exit(0)
EOF
)
    run -0 timeout -s KILL 20 "$ASYNCRUN" "$script"
    assert_output "ticking	true
served	hello"
}

@test "close in a task waits for a slow reader in that task only, and the reader gets it all" {
    script=$(script <<'EOF'
local n = 0
local ticker = async.spawn(function() while true do async.sleep(0.01) n = n + 1 end end)
local got
local go = async.event()
local server = assert(async.tcp.listen("127.0.0.1", 0, function(s)
  go:wait() -- a slow reader: it starts late
  got = #s:read("a")
end))
local c = assert(async.tcp.connect("127.0.0.1", server:port()))
c:setvbuf("full", 1 << 25)
c:write("a", string.rep("y", (1 << 25) - 1)) -- buffered, more than the kernel takes
async.spawn(function() async.sleep(0.5) go:set() end)
local t0, n0 = async.now(), n
assert(c:close())
print("close waited", async.now() - t0 > 0.2, "ticker ran", n - n0 >= 2)
while not got do async.sleep(0.01) end
print("received", got)
ticker:cancel()
server:close()
EOF
)
    run -0 timeout -s KILL 30 "$ASYNCRUN" "$script"
    assert_output "close waited	true	ticker ran	true
received	33554432"
}

@test "a stream dropped with output pending is flushed later, without stopping the loop" {
    # the collector closes it outside any task: its output lingers and still arrives
    script=$(script <<'EOF'
local got
local server = assert(async.tcp.listen("127.0.0.1", 0, function(s)
  async.sleep(0.3)
  got = #s:read("a")
end))
do
  local c = assert(async.tcp.connect("127.0.0.1", server:port()))
  c:setvbuf("full", 1 << 25)
  c:write("a", string.rep("z", (1 << 25) - 1)) -- buffered, more than the kernel takes
end
local t0 = async.now()
collectgarbage() collectgarbage()
print("gc returned at once", async.now() - t0 < 0.2)
while not got do async.sleep(0.01) end
print("received", got)
server:close()
EOF
)
    run -0 timeout -s KILL 30 "$ASYNCRUN" "$script"
    assert_output "gc returned at once	true
received	33554432"
}

@test "--timeout fires while a write to a child that never reads waits, and no child is left" {
    script=$(script <<'EOF'
local p = async.exec({"sleep", "311"}, {stdin = "pipe"})
p.stdin:write(string.rep("x", 65536 + 14)) -- 14 bytes stay in the buffer
p:wait()
EOF
)
    start --timeout=1 "$script"
    wait_exit 15
    [ "$status" -eq 124 ] || fail "status $status; stderr: $(cat "$BATS_TEST_TMPDIR/err")"
    grep -q "asyncrun: timeout: the run exceeded 1 s" "$BATS_TEST_TMPDIR/err"
    run ! pgrep -f "sleep 311"
}

@test "SIGTERM ends a run whose output waits for a reader that does not read, and no child is left" {
    script=$(script <<'EOF'
async.exec({"sleep", "312"})
io.stderr:write("ending\n")
async.stdout:setvbuf("full", 1 << 23)
async.stdout:write("a", string.rep("x", 4 << 20)) -- buffered: the end of the run drains it
EOF
)
    local reader
    silent_fifo "$BATS_TEST_TMPDIR/fifo"
    "$ASYNCRUN" "$script" >"$BATS_TEST_TMPDIR/fifo" 2>"$BATS_TEST_TMPDIR/err" &
    pid=$!
    wait_for_line "$BATS_TEST_TMPDIR/err" ending
    sleep 0.3
    kill -TERM "$pid"
    wait_exit 15
    kill "$reader" 2>/dev/null || true
    assert_equal "$status" 143
    run ! pgrep -f "sleep 312"
}

@test "the end of the run kills children before it drains the pipes to them" {
    # what main left buffered for a child that never reads does not hold the run
    script=$(script <<'EOF'
local p = async.exec({"sleep", "313"}, {stdin = "pipe"})
p.stdin:write(string.rep("x", 65536))
p.stdin:write("fourteen bytes")
print("done")
EOF
)
    start "$script"
    wait_exit 15
    assert_equal "$status" 0
    assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" done
    run ! pgrep -f "sleep 313"
}

@test "the end of the run gives a socket peer that never reads the grace, one that reads all it needs" {
    # two peers: a TCP one that never reads, a Unix one that reads 64 KiB every 0.1 s (3.5 MiB
    # take it some 5.5 s, past the 5 s grace: the grace counts from its last progress)
    python3 -c '
import socket, sys, threading, time
never = socket.socket(); never.bind(("127.0.0.1", 0)); never.listen()
slow = socket.socket(socket.AF_UNIX); slow.bind(sys.argv[1]); slow.listen()
def reader():
    c, _ = slow.accept(); n = 0
    while True:
        d = c.recv(65536)
        if not d: break
        n += len(d); time.sleep(0.1)
    print("slow reader got", n, flush=True)
threading.Thread(target=reader).start()
print(never.getsockname()[1], flush=True)
c, _ = never.accept(); time.sleep(60)' "$BATS_TEST_TMPDIR/slow.sock" >"$BATS_TEST_TMPDIR/peer" &
    local peer=$!
    for _ in $(seq 100); do [ -s "$BATS_TEST_TMPDIR/peer" ] && break; sleep 0.05; done
    script=$(script <<EOF
local never = assert(async.tcp.connect("127.0.0.1", $(head -1 "$BATS_TEST_TMPDIR/peer")))
never:setvbuf("full", 1 << 25)
never:write("a", string.rep("x", (1 << 25) - 1)) -- buffered, more than the kernel takes
local slow = assert(async.unix.connect("$BATS_TEST_TMPDIR/slow.sock"))
slow:setvbuf("full", 1 << 23)
slow:write(string.rep("y", 3584 * 1024))
print("main ends")
EOF
)
    local t0=$SECONDS
    start "$script"
    wait_exit 30
    for _ in $(seq 100); do [ "$(wc -l < "$BATS_TEST_TMPDIR/peer")" -ge 2 ] && break; sleep 0.05; done
    kill "$peer" 2>/dev/null || true
    assert_equal "$status" 0
    assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" "main ends"
    assert_equal "$(sed -n 2p "$BATS_TEST_TMPDIR/peer")" "slow reader got 3670016"
    [ $((SECONDS - t0)) -lt 20 ] || fail "the run took $((SECONDS - t0)) s"
}

@test "output held for a peer that never reads hides no deadlock" {
    script=$(script <<EOF
local never = async.event()
local server = assert(async.unix.listen("$BATS_TEST_TMPDIR/sock", function() never:wait() end))
local c = assert(async.unix.connect("$BATS_TEST_TMPDIR/sock"))
async.sleep(0.1)
server:close()
c:setvbuf("full", 1 << 22)
c:write(string.rep("x", 4000000)) -- more than the kernel takes: flushed in the background
never:wait()
EOF
)
    run -3 --separate-stderr timeout 20 "$ASYNCRUN" "$script"
    stderr_has "asyncrun: deadlock: no task can run and nothing can wake the main task"
}

@test "--timeout bounds the final drain of stdout to a reader that does not read" {
    script=$(script <<'EOF'
async.stdout:setvbuf("full", 1 << 23)
async.stdout:write("a", string.rep("x", 4 << 20)) -- buffered: the end of the run drains it
EOF
)
    # asyncrun's own status and end time, its reader a process that keeps the pipe open and
    # never reads (killed once asyncrun has ended)
    local reader
    silent_fifo "$BATS_TEST_TMPDIR/pipe"
    local start=$SECONDS st=0
    "$ASYNCRUN" --timeout=1 "$script" > "$BATS_TEST_TMPDIR/pipe" || st=$?
    local secs=$((SECONDS - start))
    kill "$reader"
    wait "$reader" || true
    assert_equal "$st" 124
    [ "$secs" -lt 10 ] || fail "asyncrun ended after $secs s"
}

@test "the end of the run waits for a slow stdout reader that reads: nothing is lost" {
    run -0 bash -c '"$1" -e "async.stdout:write(string.rep(\"x\", 3 << 20)) io.write(\"tail\")" |
                    { sleep 1; wc -c; }' _ "$ASYNCRUN"
    assert_output "$((3 * 1024 * 1024 + 4))"
}

# ------------------------------------------------------------------ write errors at exit

# Runs the code with stdout on /dev/full (`run` itself would hand asyncrun a pipe).
full() {
    "$ASYNCRUN" -e "$1" </dev/null >/dev/full
}

@test "a full disk fails the run: every way of writing, every exit path" {
    for code in 'print("x")' 'io.write("x")' 'io.stdout:write("x")' 'async.stdout:write("x")' \
        'async.stdout:write("x") os.exit(0)' 'print("x") os.exit(true)' \
        'async.spawn(function() async.stdout:write("x") async.sleep(0.01) end) async.sleep(0.05)' \
        'print(string.rep("x", 100000))'; do
        run -1 --separate-stderr full "$code"
        assert_equal "$stderr" "asyncrun: stdout: No space left on device" || fail "for: $code"
    done
}

@test "a full disk: the script's own failure comes first, then the write error, status kept" {
    run -1 --separate-stderr full 'print("x") error("boom")'
    assert_equal "${stderr_lines[0]}" "asyncrun: (command line):1: boom"
    assert_equal "${stderr_lines[-1]}" "asyncrun: stdout: No space left on device"
    run -7 --separate-stderr full 'print("x") os.exit(7)'
    assert_equal "$stderr" "asyncrun: stdout: No space left on device"
}

@test "a write error the script received is the script's: no report, its own status" {
    run -0 --separate-stderr full '
        local ok, msg, code = async.stdout:write("x"):flush()
        io.stderr:write(tostring(msg), " ", tostring(code), "\n")'
    assert_equal "$stderr" "No space left on device 28"
    run -0 --separate-stderr full '
        local ok, msg = io.stdout:write(string.rep("x", 100000))
        io.stderr:write(tostring(msg), "\n")'
    assert_equal "$stderr" "No space left on device"
    # unbuffered: write itself returned the error (nil, msg, errno), ignored or not
    run -0 --separate-stderr full 'async.stdout:setvbuf("no") async.stdout:write("x")'
    assert_equal "$stderr" ""
}

@test "stderr full too: the status still says the run failed" {
    run -1 bash -c '"$1" -e "print(1)" >/dev/full 2>/dev/full' _ "$ASYNCRUN"
    run -1 bash -c '"$1" -e "io.stderr:write(1) async.stderr:write(2)" 2>/dev/full' _ "$ASYNCRUN"
}

@test "a reader that left is still the quiet 141, not a write error" {
    run -0 bash -c '"$1" -e "for i = 1, 1e5 do print(i) end" 2>"$2" | head -1; echo "${PIPESTATUS[0]}"' \
        _ "$ASYNCRUN" "$BATS_TEST_TMPDIR/err"
    assert_output "1
141"
    assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" ""
}

# ------------------------------------------------------------------ trace order

# The run whose lines must interleave: output between every trace event.
order_script() {
    script order.lua <<'EOF'
for i = 1, 3 do
  print("print " .. i)
  async.sleep(0)
end
async.spawn(function()
  io.write("io.write\n")
  async.stdout:write("stream\n")
  io.stderr:write("stderr\n")
  async.stderr:write("async.stderr\n")
end):await()
print("end")
EOF
}

# Masks the times of a trace, and a terminal's CRs.
mask() {
    sed -E 's/\r$//; s/(t|ran|wall|run)=[0-9.]+/\1=T/g'
}

@test "--trace with 2>&1 keeps trace and output in the order they happened: file, pipe, terminal" {
    local s
    s=$(order_script)
    "$ASYNCRUN" --trace "$s" >"$BATS_TEST_TMPDIR/file" 2>&1
    "$ASYNCRUN" --trace "$s" 2>&1 | cat >"$BATS_TEST_TMPDIR/pipe"
    command script -qec "$ASYNCRUN --trace $s" /dev/null </dev/null >"$BATS_TEST_TMPDIR/tty"
    mask <"$BATS_TEST_TMPDIR/tty" >"$BATS_TEST_TMPDIR/tty.m"
    for f in file pipe; do
        mask <"$BATS_TEST_TMPDIR/$f" >"$BATS_TEST_TMPDIR/$f.m"
        diff "$BATS_TEST_TMPDIR/tty.m" "$BATS_TEST_TMPDIR/$f.m" || fail "$f differs from the terminal"
    done
    # and that order is the order of events: each print right after its task's resume
    run -0 grep -n -A1 "event=resume task=1" "$BATS_TEST_TMPDIR/pipe.m"
    assert_line --index 1 --partial "print 1"
    run -0 grep -A4 "event=resume task=2" "$BATS_TEST_TMPDIR/pipe.m"
    assert_output "trace: t=T event=resume task=2 name=task-2
io.write
stream
stderr
async.stderr"
}

@test "--trace=json with 2>&1 keeps the order too" {
    local s
    s=$(order_script)
    "$ASYNCRUN" --trace=json "$s" 2>&1 | cat >"$BATS_TEST_TMPDIR/pipe"
    run -0 grep -A1 '"event":"resume","task":1' "$BATS_TEST_TMPDIR/pipe"
    assert_line --index 1 "print 1"
    run -0 grep -B1 '"event":"done","task":1' "$BATS_TEST_TMPDIR/pipe"
    assert_line --index 0 "end"
}

@test "async.stdout closed while its reader is slow: print still comes after, a reader that leaves is 141" {
    # the close cannot wait (its timeout expires): the output lingers, still stdout's
    s=$(script <<'EOF'
async.stdout:setvbuf("full", 1 << 20)
async.stdout:write(string.rep("x", 200000), "\n")
pcall(async.timeout, 0.05, async.stdout.close, async.stdout)
if arg[1] == "print" then print("END") end
EOF
)
    run -0 bash -c '"$1" "$2" print | { sleep 1; cat; } | tr -s x' _ "$ASYNCRUN" "$s"
    assert_output $'x\nEND'
    run -0 bash -c '"$1" "$2" | { sleep 0.3; head -c 10 > /dev/null; }; echo "${PIPESTATUS[0]}"' _ "$ASYNCRUN" "$s"
    assert_output "141"
}
