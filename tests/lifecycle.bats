#!/usr/bin/env bats
# The lifecycle and exit statuses (SPEC §2): normal end, os.exit, errors and their chains,
# failed tasks nobody awaited, deadlock (§5), shutdown, --timeout, scheduling order.

load helpers

setup() {
    clean_environment
}

# Fails if $stderr contains $1.
stderr_lacks() {
    [[ $stderr != *"$1"* ]] || fail "stderr unexpectedly has: $1
-- stderr --
$stderr"
}

# Fails unless some line of $stderr matches the extended regex $1.
stderr_line_matches() {
    local line
    for line in "${stderr_lines[@]}"; do
        [[ $line =~ $1 ]] && return 0
    done
    fail "no stderr line matches: $1
-- stderr --
$stderr"
}

# Runs "$@" under `run`, recording the wall time in $elapsed (seconds, fractional).
timed_run() {
    local t0 t1
    t0=$(date +%s.%N)
    run "$@"
    t1=$(date +%s.%N)
    elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}

# Fails unless $elapsed is below $1 seconds.
elapsed_below() {
    awk -v e="$elapsed" -v max="$1" 'BEGIN { exit !(e < max) }' ||
        fail "took ${elapsed} s, expected under $1 s"
}

# ---------------------------------------------------------------- normal end

@test "exit 0 when main finishes, whatever the script returns" {
    for ret in 'return 5' 'return false' 'return nil, "error?"' 'return 1, 2, 3'; do
        s=$(script <<EOF
async.sleep(0.01)
print("end")
$ret
EOF
)
        run -0 --separate-stderr "$ASYNCRUN" "$s"
        assert_output "end"
        assert_equal "$stderr" ""
    done
}

# ---------------------------------------------------------------- os.exit

@test "os.exit(7) exits 7" {
    run -7 "$ASYNCRUN" -e 'async.sleep(0.01) os.exit(7) print("after")'
    assert_output ""
}

@test "os.exit(true) exits 0 and os.exit(false) exits 1" {
    run -0 "$ASYNCRUN" -e 'os.exit(true)'
    run -1 --separate-stderr "$ASYNCRUN" -e 'os.exit(false)'
    assert_equal "$stderr" ""
}

@test "os.exit from a spawned task exits at once with its code" {
    timed_run -5 "$ASYNCRUN" -e '
        async.spawn(function() async.sleep(0.01) print("task exits") os.exit(5) end)
        async.sleep(30)
        print("main not reached")'
    assert_output "task exits"
    elapsed_below 5
}

@test "os.exit with tasks still sleeping exits at once" {
    timed_run -4 "$ASYNCRUN" -e '
        async.spawn(function() async.sleep(30) end)
        async.sleep(0.01)
        os.exit(4)'
    elapsed_below 5
}

@test "output printed before os.exit reaches a file" {
    out=$BATS_TEST_TMPDIR/out.txt
    run -3 bash -c '"$1" -e "$2" > "$3"' _ "$ASYNCRUN" \
        'print("line") io.write("partial") async.sleep(0.01) os.exit(3) print("not reached")' "$out"
    assert_equal "$(cat "$out")" "line
partial"
}

@test "output printed before os.exit reaches a pipe" {
    run -3 bash -c '"$1" -e "$2" | cat; exit "${PIPESTATUS[0]}"' _ "$ASYNCRUN" \
        'print("line") io.write("partial") async.sleep(0.01) os.exit(3) print("not reached")'
    assert_output "line
partial"
}

@test "os.exit with a bad code raises and the run goes on, its stats printed once at the end" {
    run -0 --separate-stderr "$ASYNCRUN" --stats -e '
        print(pcall(os.exit, "x"))
        async.sleep(0)
        print("after")'
    assert_line --index 0 --partial "false"
    assert_line --index 0 --partial "exit' (number expected, got string)"
    assert_line --index 1 "after"
    [ "$(grep -c '^asyncrun stats:' <<<"$stderr")" -eq 1 ] || fail "stats printed $(grep -c '^asyncrun stats:' <<<"$stderr") times: $stderr"
}

@test "os.exit(n, true) (close the state) exits with n" {
    run -6 "$ASYNCRUN" -e '
        async.spawn(function() async.sleep(30) end)
        async.spawn(function() async.sleep(0.01) os.exit(6, true) end)
        async.sleep(30)'
    run -0 "$ASYNCRUN" -e 'os.exit(true, true)'
}

@test "after os.exit the --trace-file still ends with the loop-close event" {
    tf=$BATS_TEST_TMPDIR/trace.txt
    run -4 "$ASYNCRUN" --trace-file="$tf" -e '
        async.spawn(function() async.sleep(30) end)
        async.sleep(0.01)
        os.exit(4)'
    tail -1 "$tf" | grep -Eq '^trace: t=[0-9.]+ event=loop-close wall=[0-9.]+ tasks=2$' ||
        fail "trace: $(cat "$tf")"
}

# ---------------------------------------------------------------- errors

@test "an error in main exits 1: 'asyncrun: FILE:LINE: boom' then a traceback" {
    s=$(script <<'EOF'
print("before")
local x = 1
error("boom")
EOF
)
    run -1 --separate-stderr "$ASYNCRUN" "$s"
    assert_output "before"
    assert_equal "${stderr_lines[0]}" "asyncrun: $s:3: boom"
    assert_equal "${stderr_lines[1]}" "stack traceback:"
    stderr_has "$s:3: in main chunk"
}

@test "the main task's error is reported once, and after a suspension too" {
    s=$(script <<'EOF'
async.sleep(0.01)
error("boom")
EOF
)
    run -1 --separate-stderr "$ASYNCRUN" "$s"
    assert_equal "${stderr_lines[0]}" "asyncrun: $s:2: boom"
    [ "$(grep -c 'boom' <<< "$stderr")" -eq 1 ] || fail "reported more than once: $stderr"
}

@test "a non-string error object is reported as lua does" {
    run -1 --separate-stderr "$ASYNCRUN" -e 'error({})'
    assert_equal "${stderr_lines[0]}" "asyncrun: (error object is a table value)"
    run -1 --separate-stderr "$ASYNCRUN" \
        -e 'error(setmetatable({}, {__tostring = function() return "custom" end}))'
    assert_equal "${stderr_lines[0]}" "asyncrun: custom"
}

@test "an error from an awaited task names the worker's line and 'awaited by task 1 (main)'" {
    s=$(script <<'EOF'
local t = async.spawn(function()
  async.sleep(0.01)
  error("boom")
end)
local r = t:await()
print("not reached")
EOF
)
    run -1 --separate-stderr "$ASYNCRUN" "$s"
    assert_output ""
    assert_equal "${stderr_lines[0]}" "asyncrun: $s:3: boom"
    stderr_line_matches "^[[:space:]]*awaited by task 1 \(main\) at $s:5$"
    stderr_lacks "nobody awaited"
}

@test "a two-level await chain names both awaiters, innermost first" {
    s=$(script <<'EOF'
local a = async.spawn(function()
  local b = async.spawn(function()
    async.sleep(0.01)
    error("boom")
  end)
  return b:await()
end)
a.name = "middle"
a:await()
EOF
)
    run -1 --separate-stderr "$ASYNCRUN" "$s"
    assert_equal "${stderr_lines[0]}" "asyncrun: $s:4: boom"
    stderr_line_matches "^[[:space:]]*awaited by task 2 \(middle\) at $s:6$"
    stderr_line_matches "^[[:space:]]*awaited by task 1 \(main\) at $s:9$"
    # task 2's line comes before main's
    [[ $stderr =~ "awaited by task 2".*"awaited by task 1" ]] || fail "order: $stderr"
    stderr_lacks "nobody awaited"
}

@test "an awaited task's error caught with pcall ends the run normally" {
    run -0 --separate-stderr "$ASYNCRUN" -e '
        local t = async.spawn(function() error("boom") end)
        local ok, err = pcall(t.await, t)
        print(ok, err)'
    assert_output "false	(command line):2: boom"
    assert_equal "$stderr" ""
}

# ---------------------------------------------------------------- unretrieved failures

@test "a failed task nobody awaited is reported and makes the exit status 1" {
    s=$(script <<'EOF'
local t = async.spawn(function()
  error("lost error")
end)
t.name = "worker"
async.sleep(0.01)
print("main done")
EOF
)
    run -1 --separate-stderr "$ASYNCRUN" "$s"
    assert_output "main done"
    stderr_has "asyncrun: task 2 (worker) failed and nobody awaited it: $s:2: lost error"
    [ "$(grep -c 'lost error' <<< "$stderr")" -eq 1 ] || fail "reported more than once: $stderr"
}

@test "a failed task that lost every reference is still reported" {
    run -1 --separate-stderr "$ASYNCRUN" -e '
        async.spawn(function() error("dropped") end)
        async.sleep(0.01)
        collectgarbage() collectgarbage()
        async.sleep(0.01)
        print("main done")'
    assert_output "main done"
    stderr_has "task 2 (task-2) failed and nobody awaited it: (command line):2: dropped"
}

@test "failed tasks are reported when collected, not at the end; awaited ones never" {
    run -1 --separate-stderr "$ASYNCRUN" -e '
        local seen = {}
        for i = 1, 3000 do seen[i] = async.spawn(function() error("seen " .. i) end) end
        for i = 1, 100 do async.spawn(function() error("dropped " .. i) end) end
        async.sleep(0.01)
        for i = 1, 3000 do assert(not pcall(seen[i].await, seen[i])) end
        seen = nil
        collectgarbage() collectgarbage()
        io.stderr:write("after gc\n")'
    [ "$(grep -c 'failed and nobody awaited it: (command line):4: dropped' <<< "$stderr")" -eq 100 ] ||
        fail "not 100 reports: $stderr"
    refute grep -q seen <<< "$stderr"
    [ "$(tail -n 1 <<< "$stderr")" = "after gc" ] || fail "reported after the collection: $stderr"
}

@test "a failed task retrieved with await (or pcall(t.await, t)) is not reported" {
    run -0 --separate-stderr "$ASYNCRUN" -e '
        local t = async.spawn(function() error("seen") end)
        async.sleep(0.01)
        print(pcall(t.await, t))'
    assert_output "false	(command line):2: seen"
    assert_equal "$stderr" ""
}

@test "a failed task retrieved with result is not reported" {
    run -0 --separate-stderr "$ASYNCRUN" -e '
        local t = async.spawn(function() error("seen") end)
        async.sleep(0.01)
        print(pcall(t.result, t))'
    assert_output "false	(command line):2: seen"
    assert_equal "$stderr" ""
}

@test "a cancelled task is never reported" {
    run -0 --separate-stderr "$ASYNCRUN" -e '
        local t = async.spawn(function() async.sleep(30) end)
        async.sleep(0.01)
        t:cancel()
        async.sleep(0.01)
        print(t:status())'
    assert_output "cancelled"
    assert_equal "$stderr" ""
}

@test "a task whose pcall swallowed the cancellation but then re-raised it is not reported" {
    run -0 --separate-stderr "$ASYNCRUN" -e '
        local t = async.spawn(function()
          local ok, err = pcall(async.sleep, 30)
          error(err)
        end)
        async.sleep(0.01)
        t:cancel()
        async.sleep(0.01)
        print(t:status())'
    assert_output "cancelled"
    assert_equal "$stderr" ""
}

# ---------------------------------------------------------------- deadlock

@test "deadlock: main awaits a task that awaits main: exit 3 at once with a task dump" {
    s=$(script <<'EOF'
local main = async.current()
local t = async.spawn(function()
  main:await()
end)
t:await()
print("not reached")
EOF
)
    timed_run -3 --separate-stderr "$ASYNCRUN" "$s"
    elapsed_below 5
    assert_output ""
    [[ ${stderr_lines[0]} == "asyncrun: deadlock:"* ]] || fail "stderr: $stderr"
    stderr_line_matches "^[[:space:]]*task 1 \(main\) .*waiting on task:2 at $s:5$"
    stderr_line_matches "^[[:space:]]*task 2 \(task-2\) .*waiting on task:1 at $s:3$"
}

@test "deadlock: main awaits a task sleeping math.huge: exit 3" {
    s=$(script <<'EOF'
local t = async.spawn(function()
  async.sleep(math.huge)
end)
t:await()
EOF
)
    timed_run -3 --separate-stderr "$ASYNCRUN" "$s"
    elapsed_below 5
    [[ ${stderr_lines[0]} == "asyncrun: deadlock:"* ]] || fail "stderr: $stderr"
    stderr_line_matches "^[[:space:]]*task 1 \(main\) .*waiting on task:2 at $s:4$"
    stderr_line_matches "^[[:space:]]*task 2 \(task-2\) .*at $s:2$"
}

@test "deadlock: main sleeping math.huge is a deadlock too" {
    timed_run -3 --separate-stderr "$ASYNCRUN" -e 'async.sleep(math.huge)'
    elapsed_below 5
    stderr_has "asyncrun: deadlock:"
    stderr_has "task 1 (main)"
}

@test "deadlock is found only once the last timer that could wake a task has fired" {
    timed_run -3 --separate-stderr "$ASYNCRUN" -e '
        local main = async.current()
        local t = async.spawn(function() main:await() end)
        async.spawn(function() async.sleep(0.2) print("sleeper done") end)
        t:await()'
    elapsed_below 5
    assert_output "sleeper done"
    stderr_has "asyncrun: deadlock:"
}

@test "deadlock: the --timeout timer does not count as a way to wake a task" {
    timed_run -3 --separate-stderr "$ASYNCRUN" --timeout=30 -e '
        local main = async.current()
        local t = async.spawn(function() main:await() end)
        t:await()'
    elapsed_below 5
    stderr_has "asyncrun: deadlock:"
}

# ---------------------------------------------------------------- shutdown

@test "tasks still sleeping when main returns are cancelled: the run ends at once" {
    timed_run -0 --separate-stderr "$ASYNCRUN" -e '
        async.spawn(function() async.sleep(100) print("not reached") end)
        async.spawn(function() async.sleep(100) print("not reached") end)
        async.sleep(0.01)
        print("main done")'
    elapsed_below 5
    assert_output "main done"
    assert_equal "$stderr" ""
}

@test "a cancelled task's cleanup runs at shutdown, after main's last output" {
    timed_run -0 --separate-stderr "$ASYNCRUN" -e '
        async.spawn(function()
          local ok, err = pcall(async.sleep, 100)
          print("cleanup", ok, async.is_cancelled(err))
        end)
        async.sleep(0.01)
        print("main done")'
    elapsed_below 5
    assert_output "main done
cleanup	false	true"
}

@test "a task not yet started when main returns never runs its body" {
    run -0 --separate-stderr "$ASYNCRUN" -e '
        local t = async.spawn(function() print("body ran") end)
        print("main done")'
    assert_output "main done"
    assert_equal "$stderr" ""
}

@test "a task whose shielded cleanup outlasts the 5 s grace is given up and reported" {
    timed_run --separate-stderr "$ASYNCRUN" -e '
        local t = async.spawn(function()
          pcall(async.sleep, 100)
          print("cleanup starts")
          async.shield(function() async.sleep(30) end)
          print("cleanup ends")
        end)
        t.name = "stubborn"
        async.sleep(0.01)
        print("main done")'
    elapsed_below 9
    assert_output "main done
cleanup starts"
    stderr_has "did not finish"
    stderr_has "task 2 (stubborn)"
}

@test "a task given up while it waits on a stream: the run closes cleanly (the stream wakes a waiter that is gone)" {
    # under AddressSanitizer this once read the waiter after its task's run block was freed
    local fifo="$BATS_TEST_TMPDIR/never"
    mkfifo "$fifo"
    # opened read-write, the fifo is its own writer: the read waits forever, never at EOF
    timed_run --separate-stderr "$ASYNCRUN" -e '
        local t = async.spawn(function()
          pcall(async.sleep, 100)
          async.shield(function() async.stdin:read(10) end)
        end)
        t.name = "reader"
        async.sleep(0.01)
        print("main done")' <>"$fifo"
    elapsed_below 12
    assert_success
    assert_output "main done"
    stderr_has "task 2 (reader)"
    stderr_lacks "AddressSanitizer"
}

@test "a task that keeps swallowing the cancellation is given up after the 5 s grace" {
    timed_run --separate-stderr timeout -s KILL 15 "$ASYNCRUN" -e '
        local t = async.spawn(function()
          while true do pcall(async.sleep, 0.05) end
        end)
        t.name = "stubborn"
        async.sleep(0.01)
        print("main done")'
    [ "$status" -ne 137 ] || fail "killed after 15 s: the grace period never ended"
    elapsed_below 10
    assert_output "main done"
    stderr_has "did not finish"
    stderr_has "task 2 (stubborn)"
}

# ---------------------------------------------------------------- --timeout

@test "--timeout=0.3 on a long sleep exits 124 quickly with 'timeout' and the task dump" {
    s=$(script <<'EOF'
print("start")
async.sleep(10)
print("not reached")
EOF
)
    timed_run -124 --separate-stderr "$ASYNCRUN" --timeout=0.3 "$s"
    elapsed_below 5
    assert_output "start"
    stderr_has "timeout"
    stderr_line_matches "^[[:space:]]*task 1 \(main\) .*sleep.* at $s:2$"
}

@test "--timeout 0.3 (separate argument) works the same" {
    timed_run -124 --separate-stderr "$ASYNCRUN" --timeout 0.3 -e 'async.sleep(10)'
    elapsed_below 5
    stderr_has "timeout"
    stderr_has "task 1 (main)"
}

@test "--timeout: the dump lists the other live tasks too" {
    timed_run -124 --separate-stderr "$ASYNCRUN" --timeout=0.3 -e '
        local t = async.spawn(function() async.sleep(10) end)
        t.name = "sleeper"
        t:await()'
    elapsed_below 5
    stderr_has "task 1 (main)"
    stderr_has "task 2 (sleeper)"
}

@test "--timeout: main that catches the cancellation and returns still exits 124" {
    timed_run -124 --separate-stderr "$ASYNCRUN" --timeout=0.3 -e '
        local ok, err = pcall(async.sleep, 10)
        print("caught", ok, async.is_cancelled(err))'
    elapsed_below 5
    assert_output "caught	false	true"
}

@test "--timeout ends the run even when main keeps swallowing the cancellation" {
    timed_run --separate-stderr timeout -s KILL 15 "$ASYNCRUN" --timeout=0.3 -e '
        while true do pcall(async.sleep, 0.1) end'
    [ "$status" -ne 137 ] || fail "killed after 15 s: --timeout never ended the run"
    elapsed_below 10
    assert_equal "$status" 124
    stderr_has "timeout"
}

@test "--timeout: a script that finishes in time exits 0 without a dump" {
    run -0 --separate-stderr "$ASYNCRUN" --timeout=5 -e 'async.sleep(0.01) print("in time")'
    assert_output "in time"
    assert_equal "$stderr" ""
}

# ---------------------------------------------------------------- scheduling order

@test "sleeping tasks wake in the order of their deadlines" {
    run -0 "$ASYNCRUN" -e '
        for _, d in ipairs{0.15, 0.05, 0.1} do
          async.spawn(function() async.sleep(d) print(d) end)
        end
        async.sleep(0.3)'
    assert_output "0.05
0.1
0.15"
}

@test "sleep(0) lets the other ready task run: A1 B1 A2 B2 A3 B3" {
    run -0 "$ASYNCRUN" -e '
        local function loop(name)
          for i = 1, 3 do print(name .. i) async.sleep(0) end
        end
        local a, b = async.spawn(loop, "A"), async.spawn(loop, "B")
        a:await() b:await()'
    assert_output "A1
B1
A2
B2
A3
B3"
}

@test "a spawned task starts only when its parent suspends" {
    run -0 "$ASYNCRUN" -e '
        local t = async.spawn(function() print("child") end)
        print("parent before")
        async.sleep(0)
        print("parent after")'
    assert_output "parent before
child
parent after"
}

# ---------------------------------------------------------------- main cancelled

@test "main cancelled by another task: exit 1 with 'the main task was cancelled'" {
    run -1 --separate-stderr "$ASYNCRUN" -e '
        local main = async.current()
        async.spawn(function() main:cancel() end)
        async.sleep(10)
        print("not reached")'
    assert_output ""
    stderr_has "asyncrun: the main task was cancelled"
}
