#!/usr/bin/env bats
# Issue 23, items 4-7: what a cancellation, a failing __tostring, a long line and a terminal
# hang-up must not do: leak descriptors until the collector runs, abort the run, take
# quadratic time or unbounded memory, leave children running.

load helpers

setup() {
    clean_environment
}

teardown() {
    if [ -n "${pid:-}" ]; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if [ -n "${tag:-}" ]; then
        pkill -KILL -f "sleep $tag" 2>/dev/null || true
    fi
}

# Runs "$@" as the session leader of a new pseudo-terminal (as a login shell is), waits for
# the line "ready" in $ready, then closes the terminal's master side (a hang-up: the kernel
# sends SIGHUP to the session) and prints the exit status.
pty_hangup() {
    python3 - "$ready" "$@" <<'PY'
import os, pty, sys, time
ready, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
deadline = time.monotonic() + 10
while not (os.path.exists(ready) and "ready" in open(ready).read()):
    if time.monotonic() > deadline:
        os.kill(pid, 9)
        sys.exit("no 'ready' after 10 s")
    time.sleep(0.02)
os.close(fd)
deadline = time.monotonic() + 10
while True:
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if time.monotonic() > deadline:
        os.kill(pid, 9)
        sys.exit("still running 10 s after the hang-up")
    time.sleep(0.02)
print(os.waitstatus_to_exitcode(st))
PY
}

@test "SIGHUP: a closed terminal cancels main (129) and kills the children of exec and capture" {
    tag=31$$.5
    ready=$BATS_TEST_TMPDIR/ready
    s=$(script <<EOF
local p = async.exec({"sleep", "$tag"})
async.spawn(async.capture, {"sleep", "$tag"})
async.sleep(0.2) -- both children started
local f = assert(io.open("$ready", "w")) f:write("ready\n") f:close()
p:wait()
EOF
)
    run pty_hangup "$ASYNCRUN" "$s"
    assert_success
    assert_output 129
    run pgrep -f "sleep $tag"
    assert_failure
}

@test "a SIGHUP ignored when asyncrun starts stays ignored: the run ends normally" {
    ready=$BATS_TEST_TMPDIR/ready
    s=$(script <<EOF
local f = assert(io.open("$ready", "w")) f:write("ready\n") f:close()
async.sleep(0.5)
print("finished")
EOF
)
    out=$BATS_TEST_TMPDIR/out err=$BATS_TEST_TMPDIR/err
    env --ignore-signal=HUP "$ASYNCRUN" "$s" > "$out" 2> "$err" 3>&- &
    pid=$!
    wait_for_line "$ready" ready
    kill -HUP "$pid"
    wait_exit 5
    assert_equal "$status" 0
    assert_equal "$(cat "$out")" "finished"
}

# Writes a line of $1 bytes (then a newline unless $2 is "open") to a pipe of one page, so
# that every read of the other end brings at most 4 KiB.
long_line() {
    python3 - "$@" <<'PY'
import fcntl, os, sys
fcntl.fcntl(1, 1031, 4096)  # F_SETPIPE_SZ
n, chunk = int(sys.argv[1]), b"x" * 65536
try:
    while n > 0:
        n -= os.write(1, chunk[:min(n, len(chunk))])
    if sys.argv[2:] != ["open"]:
        os.write(1, b"\n")
except BrokenPipeError:
    pass
PY
}

@test "read('l') and lines on a 100 MB line through a pipe take linear time" {
    # each 4 KiB read rescanned the whole line: 30 s were not enough
    s=$(script <<'EOF'
local a = async.stdin:read("l")
local b
for l in async.stdin:lines("L") do b = l end
print(#a, #b)
EOF
)
    two_lines() { { long_line 100000000; long_line 100; } | "$ASYNCRUN" --timeout=60 "$s"; }
    run two_lines
    assert_success
    assert_output "$(printf '100000000\t101')"
}

@test "the read buffer counts against --memlimit: a 1 GB line without newline fails, memory bounded" {
    s=$(script <<'EOF'
local ok, err = pcall(async.stdin.read, async.stdin, "l")
local peak = tonumber(io.open("/proc/self/status"):read("a"):match("VmHWM:%s*(%d+)"))
print(ok, err, peak < 400 * 1024 or peak .. " kB")
for _ in async.stdin:lines() do end -- raises as well
print("not reached")
EOF
)
    endless() { long_line 1000000000 open | "$ASYNCRUN" --memlimit=64M --timeout=60 "$s"; }
    run --separate-stderr endless
    assert_failure 1
    assert_output "$(printf 'false\tnot enough memory\ttrue')"
    assert_equal "$stderr" "asyncrun: not enough memory"
}

# An error value whose __tostring raises: the runtime's own reports use a placeholder.
bad_error() {
    printf '%s\n' 'local bad = setmetatable({}, {__tostring = function() error("no text") end})'
    cat
}

@test "a failing __tostring: pcall of await on the failed task lets main go on, trace and stats too" {
    s=$(bad_error <<'EOF' | script
local t = async.spawn(function() error(bad) end)
local ok, e = pcall(t.await, t)
print(ok, rawequal(e, bad))
print("main goes on")
EOF
)
    run --separate-stderr "$ASYNCRUN" --trace --stats "$s"
    assert_success
    assert_output "$(printf 'false\ttrue\nmain goes on')"
    stderr_has 'event=fail task=2 name=task-2 error="(error object: __tostring failed: '
    stderr_has 'no text)"'
    stderr_has 'tasks              2 spawned, 1 done, 1 failed, 0 cancelled'
}

@test "a failing __tostring: an unawaited failure is reported with a placeholder, main's rest runs" {
    s=$(bad_error <<'EOF' | script
async.spawn(function() error(bad) end)
async.spawn(function() error(setmetatable({}, {__tostring = function() return 42 end})) end)
async.sleep(0.05)
print("main goes on")
EOF
)
    run --separate-stderr "$ASYNCRUN" "$s"
    assert_failure 1
    assert_output "main goes on"
    stderr_has "asyncrun: task 2 (task-2) failed and nobody awaited it: (error object: __tostring failed: "
    stderr_has "no text)"
    stderr_has "asyncrun: task 3 (task-3) failed and nobody awaited it: (error object: __tostring failed: '__tostring' must return a string)"
}

@test "a failing __tostring: the main task's error, and a task dump at --timeout after such a failure" {
    s=$(bad_error <<'EOF' | script
local t = async.spawn(function() error(bad) end)
pcall(t.await, t)
print("waiting")
async.spawn(function() async.sleep(60) end)
async.sleep(60)
EOF
)
    run --separate-stderr "$ASYNCRUN" --timeout=0.5 "$s"
    assert_failure 124
    assert_output "waiting"
    stderr_has "asyncrun: timeout: the run exceeded 0.5 s"
    stderr_has "task 3 (task-3) pending, waiting on sleep:60"
    s=$(bad_error <<'EOF' | script main.lua
local t = async.spawn(function() error(bad) end)
t:await()
EOF
)
    run --separate-stderr "$ASYNCRUN" "$s"
    assert_failure 1
    [[ $stderr == "asyncrun: (error object: __tostring failed: $s:1: no text)"$'\n'* ]] ||
        fail "stderr: $stderr"
    stderr_has "awaited by task 1 (main) at $s:3"
}

# Runs the script on stdin under `ulimit -n 64` and --strict, after a heap of two million
# tables (the collector does not come round during the run, so nothing left open is closed
# by it): hundreds of cancelled operations must release what they opened at once.
cancel_storm() {
    {
        printf '%s\n' 'local heap = {} for i = 1, 2000000 do heap[i] = {} end'
        cat
    } > "$BATS_TEST_TMPDIR/storm.lua"
    run --separate-stderr bash -c 'ulimit -n 64 && exec "$1" --strict --timeout=120 "$2"' \
        _ "$ASYNCRUN" "$BATS_TEST_TMPDIR/storm.lua"
}

@test "cancelled async.capture x300 under ulimit -n 64: its pipes are closed at once, the next works" {
    cancel_storm <<'EOF'
local failed = 0
for i = 1, 300 do
  local ok, e = pcall(async.timeout, (i % 3) * 0.001, async.capture, {"sleep", "5"}, {input = "x"})
  if ok or not async.is_timeout(e) then failed = failed + 1 end
end
-- a child that closed its output but runs on: cancelling its capture kills it too
for i = 1, 100 do
  pcall(async.timeout, 0.001, async.capture, {"sh", "-c", "exec >&- 2>&-; sleep 5"})
end
print("failed", failed)
print(async.capture({"echo", "still works"}))
EOF
    assert_success
    assert_output "$(printf 'failed\t0\nstill works\n\t\t0\tnil')"
    assert_equal "$stderr" ""
}

@test "cancelled exec starts x300 under ulimit -n 64: no pipe, pidfd or child left, the next works" {
    cancel_storm <<'EOF'
local over = 0
for i = 1, 300 do
  local ok, p = pcall(async.timeout, (i % 3) * 0.0005, async.exec, {"sleep", "5"},
                      {stdin = "pipe", stdout = "pipe", stderr = "pipe"})
  if ok then -- the exec was over before the deadline: the process is ours to end
    over = over + 1
    p:kill("KILL") p:wait() p.stdin:close() p.stdout:close() p.stderr:close()
  end
end
local p = assert(async.exec({"echo", "still works"}, {stdout = "pipe"}))
print(p.stdout:read("l"), p:wait())
p.stdout:close()
EOF
    assert_success
    assert_output "$(printf 'still works\t0\tnil')"
    assert_equal "$stderr" ""
}

@test "cancelled tcp and unix connects x300 under ulimit -n 64: no half-open socket left, the next works" {
    cancel_storm <<EOF
local tcp = assert(async.tcp.listen("127.0.0.1", 0, function(s) s:write("hi\n") end))
local unix = assert(async.unix.listen("$BATS_TEST_TMPDIR/sock", function(s) s:write("hi\n") end))
local got = 0
for i = 1, 300 do
  for _, connect in ipairs({
    function() return async.tcp.connect("127.0.0.1", tcp:port()) end,
    function() return async.tcp.connect("localhost", tcp:port()) end,
    function() return async.unix.connect("$BATS_TEST_TMPDIR/sock") end,
  }) do
    local ok, s, err = pcall(async.timeout, (i % 2) * 0.0001, connect)
    if ok and s then got = got + 1; s:close() elseif ok then print(s, err) end
  end
end
local t = assert(async.tcp.connect("127.0.0.1", tcp:port()))
local u = assert(async.unix.connect("$BATS_TEST_TMPDIR/sock"))
print(t:read("l"), u:read("l"))
t:close() u:close()
tcp:close() unix:close()
tcp:wait() unix:wait()
EOF
    assert_success
    assert_output "$(printf 'hi\thi')"
    assert_equal "$stderr" ""
}

@test "cancelled name lookups x900 under ulimit -n 64: nothing left, the next lookup works" {
    cancel_storm <<'EOF'
for i = 1, 300 do
  for _, d in ipairs({0, 0.00001, 0.001}) do
    pcall(async.timeout, d, async.resolve, i % 2 == 0 and "localhost" or "127.0.0.1")
  end
end
print(async.resolve("localhost")[1])
EOF
    assert_success
    assert_output "127.0.0.1"
    assert_equal "$stderr" ""
}

@test "abandoned lookups of a silent name server: those still queued go at once, the next waits little" {
    cd "$BATS_TEST_TMPDIR"
    # 100 lookups given up after 0.2 s: 4 are in the workers' hands (3 s each), 96 queued;
    # kept, they held the next lookup for 75 s
    DNS_TIMEOUT=3 run --separate-stderr with_silent_dns "$ASYNCRUN" --timeout=40 -e '
        local ts = {}
        for i = 1, 100 do
          ts[i] = async.spawn(pcall, async.timeout, 0.2, async.resolve, "h" .. i .. ".example.com")
        end
        async.gather(ts)
        print(async.resolve("localhost")[1])'
    assert_success
    assert_output "127.0.0.1"
    assert_equal "$stderr" ""
}

@test "servers closed while accepting x300 under ulimit -n 64: their sockets go at once, the next works" {
    cancel_storm <<'EOF'
for i = 1, 300 do
  local srv = assert(async.tcp.listen("127.0.0.1", 0, function(s) end))
  if i % 2 == 0 then async.sleep(0) end -- its acceptor waits in accept
  srv:close()
  if i % 3 == 0 then srv:wait() end
end
local srv = assert(async.tcp.listen("127.0.0.1", 0, function(s) s:write("hi\n") end))
local c = assert(async.tcp.connect("127.0.0.1", srv:port()))
print(c:read("l"))
c:close() srv:close() srv:wait()
EOF
    assert_success
    assert_output "hi"
    assert_equal "$stderr" ""
}
