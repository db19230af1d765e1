#!/usr/bin/env bats
# SIGINT and SIGTERM (SPEC §2): they cancel the main task and set the exit status to 130 / 143
# whatever main then returns; a second SIGINT exits at once; a signal ignored at start stays
# ignored. Each test starts asyncrun in the background, waits until the script has written
# "ready" to a file, signals it, and waits for it with a deadline.

load helpers

setup() {
    clean_environment
}

# Starts asyncrun with "$@" in the background, stdout and stderr to files; $pid is its pid.
# A non-interactive shell starts background jobs with SIGINT ignored (and asyncrun rightly
# keeps it ignored), so INT and TERM are reset to their default disposition first.
start() {
    out=$BATS_TEST_TMPDIR/out
    err=$BATS_TEST_TMPDIR/err
    env --default-signal=INT,TERM "$ASYNCRUN" "$@" > "$out" 2> "$err" 3>&- &
    pid=$!
}

teardown() {
    if [ -n "${pid:-}" ]; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}

# A script that announces "ready" in the file named by arg[1] once its code is running.
ready_script() {
    {
        printf '%s\n' 'local function announce(what)' \
            '  local f = assert(io.open(arg[1], "a")) f:write(what, "\n") f:close()' \
            'end'
        cat
    } | script
}

@test "SIGINT while main sleeps: exit 130 at once" {
    s=$(ready_script <<'EOF'
print("before")
announce("ready")
async.sleep(30)
print("not reached")
EOF
)
    start "$s" "$BATS_TEST_TMPDIR/ready"
    wait_for_line "$BATS_TEST_TMPDIR/ready" ready
    kill -INT "$pid"
    wait_exit 5
    assert_equal "$status" 130
    assert_equal "$(cat "$out")" "before"
}

@test "SIGTERM while main sleeps: exit 143 at once" {
    s=$(ready_script <<'EOF'
announce("ready")
async.sleep(30)
print("not reached")
EOF
)
    start "$s" "$BATS_TEST_TMPDIR/ready"
    wait_for_line "$BATS_TEST_TMPDIR/ready" ready
    kill -TERM "$pid"
    wait_exit 5
    assert_equal "$status" 143
    assert_equal "$(cat "$out")" ""
}

@test "SIGINT: main that catches the cancellation and returns normally still exits 130" {
    s=$(ready_script <<'EOF'
announce("ready")
local ok, err = pcall(async.sleep, 30)
print("caught", ok, async.is_cancelled(err))
return 0
EOF
)
    start "$s" "$BATS_TEST_TMPDIR/ready"
    wait_for_line "$BATS_TEST_TMPDIR/ready" ready
    kill -INT "$pid"
    wait_exit 5
    assert_equal "$status" 130
    assert_equal "$(cat "$out")" "caught	false	true"
}

@test "SIGTERM: main that catches the cancellation and returns normally still exits 143" {
    s=$(ready_script <<'EOF'
announce("ready")
pcall(async.sleep, 30)
print("caught")
EOF
)
    start "$s" "$BATS_TEST_TMPDIR/ready"
    wait_for_line "$BATS_TEST_TMPDIR/ready" ready
    kill -TERM "$pid"
    wait_exit 5
    assert_equal "$status" 143
    assert_equal "$(cat "$out")" "caught"
}

@test "SIGINT: main's cleanup code after the pcall runs, to the end, before the exit" {
    s=$(ready_script <<'EOF'
announce("ready")
local ok = pcall(async.sleep, 30)
local f = assert(io.open(arg[1] .. ".cleanup", "w"))
f:write("cleaned up\n")
f:close()
print("cleanup", ok)
print("last line")
EOF
)
    start "$s" "$BATS_TEST_TMPDIR/ready"
    wait_for_line "$BATS_TEST_TMPDIR/ready" ready
    kill -INT "$pid"
    wait_exit 5
    assert_equal "$status" 130
    assert_equal "$(cat "$out")" "cleanup	false
last line"
    assert_equal "$(cat "$BATS_TEST_TMPDIR/ready.cleanup")" "cleaned up"
}

@test "SIGINT: other tasks are cancelled at shutdown and their cleanup runs" {
    s=$(ready_script <<'EOF'
local t = async.spawn(function()
  local ok, err = pcall(async.sleep, 30)
  print("worker cleanup", ok, async.is_cancelled(err))
end)
async.sleep(0)
announce("ready")
t:await()
print("not reached")
EOF
)
    start "$s" "$BATS_TEST_TMPDIR/ready"
    wait_for_line "$BATS_TEST_TMPDIR/ready" ready
    kill -INT "$pid"
    wait_exit 5
    assert_equal "$status" 130
    assert_equal "$(cat "$out")" "worker cleanup	false	true"
}

@test "SIGINT: the trace records the main task's cancellation by signal:INT" {
    s=$(ready_script <<'EOF'
announce("ready")
async.sleep(30)
EOF
)
    tf=$BATS_TEST_TMPDIR/trace.txt
    start --trace-file="$tf" "$s" "$BATS_TEST_TMPDIR/ready"
    wait_for_line "$BATS_TEST_TMPDIR/ready" ready
    kill -INT "$pid"
    wait_exit 5
    assert_equal "$status" 130
    grep -Eq '^trace: t=[0-9.]+ event=cancel task=1 name=main by=signal:INT$' "$tf" ||
        fail "trace: $(cat "$tf")"
    tail -1 "$tf" | grep -Eq 'event=loop-close' || fail "trace: $(cat "$tf")"
}

@test "a second SIGINT exits at once while the first one's cancellation is being ignored" {
    s=$(ready_script <<'EOF'
announce("ready")
pcall(async.sleep, 30)
announce("busy")
-- level-triggered: every sleep now raises at once, so this spins without yielding
while true do pcall(async.sleep, 0.1) end
EOF
)
    start "$s" "$BATS_TEST_TMPDIR/ready"
    wait_for_line "$BATS_TEST_TMPDIR/ready" ready
    kill -INT "$pid"
    wait_for_line "$BATS_TEST_TMPDIR/ready" busy
    sleep 0.1
    kill -INT "$pid"
    wait_exit 5
    assert_equal "$status" 130
}

@test "a SIGINT ignored when asyncrun starts stays ignored: the run ends normally" {
    s=$(ready_script <<'EOF'
announce("ready")
async.sleep(1)
print("finished")
EOF
)
    out=$BATS_TEST_TMPDIR/out err=$BATS_TEST_TMPDIR/err
    (trap '' INT; exec "$ASYNCRUN" "$s" "$BATS_TEST_TMPDIR/ready" > "$out" 2> "$err" 3>&-) &
    pid=$!
    wait_for_line "$BATS_TEST_TMPDIR/ready" ready
    kill -INT "$pid"
    wait_exit 5
    assert_equal "$status" 0
    assert_equal "$(cat "$out")" "finished"
}

@test "a SIGTERM ignored when asyncrun starts stays ignored: the run ends normally" {
    s=$(ready_script <<'EOF'
announce("ready")
async.sleep(0.5)
print("finished")
EOF
)
    out=$BATS_TEST_TMPDIR/out err=$BATS_TEST_TMPDIR/err
    env --ignore-signal=TERM "$ASYNCRUN" "$s" "$BATS_TEST_TMPDIR/ready" > "$out" 2> "$err" 3>&- &
    pid=$!
    wait_for_line "$BATS_TEST_TMPDIR/ready" ready
    kill -TERM "$pid"
    wait_exit 5
    assert_equal "$status" 0
    assert_equal "$(cat "$out")" "finished"
}

@test "SIGINT that arrives while main computes without suspending still exits 130" {
    s=$(ready_script <<'EOF'
announce("ready")
local stop = os.clock() + 1
while os.clock() < stop do end
print("main returns")
EOF
)
    start "$s" "$BATS_TEST_TMPDIR/ready"
    wait_for_line "$BATS_TEST_TMPDIR/ready" ready
    kill -INT "$pid"
    wait_exit 5
    assert_equal "$status" 130
}
