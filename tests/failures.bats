#!/usr/bin/env bats
# Readable failures: task dumps and error tracebacks show the user's frames, with the API
# call the user made on top (--debug shows asyncrun's own frames too); waiting on the
# current task raises; a name lookup in progress does not hold up the end of the run; and
# the layering rule that keeps the runtime from calling the bindings.
#
# Scripts are named by a relative path in each test's own directory, so that tracebacks read
# `name.lua:LINE`.

load helpers

setup() {
    ASYNCRUN=$(realpath "$ASYNCRUN")
    SRC=$(realpath "$BATS_TEST_DIRNAME/..")
    cd "$BATS_TEST_TMPDIR" || return 1
    clean_environment
}

# Writes stdin to NAME in the test's directory.
lua() { script "$1" > /dev/null; }

# --- layering ---------------------------------------------------------------------------

# Prints every file of the directory $1 that includes a header of the directory $2.
includes_of() {
    local h
    for h in "$2"/*.h; do
        grep -lE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[\"<]([^\">]*/)?$(basename "$h")[\">]" \
            "$1"/*.c "$1"/*.h
    done
    return 0
}

@test "no file of runtime/ includes a header of lua/: arrows run cli -> runtime, cli -> lua, lua -> runtime" {
    run includes_of "$SRC/runtime" "$SRC/lua"
    assert_success
    assert_output ""
}

@test "the layering check finds a runtime file that includes a lua/ header" {
    mkdir -p fake/runtime fake/lua
    printf '/* x */\n' > fake/lua/lbind.h
    printf '#include <stdio.h>\n#include "core.h"\n' > fake/runtime/ok.c
    printf '#include "core.h"\n  #  include "lbind.h"\n' > fake/runtime/bad.c
    printf '#include "../lua/lbind.h"\n' > fake/runtime/bad.h
    run includes_of fake/runtime fake/lua
    assert_output "fake/runtime/bad.c
fake/runtime/bad.h"
}

# --- task dumps -------------------------------------------------------------------------

# The dump's lines from the first "tasks (N live):" on (the task lines and their tracebacks),
# of the file $1; tabs shown as "\t" so that expected texts can be read.
dump_of() {
    sed -n '/^tasks ([0-9]* live):$/,$p' "$1" | sed 's/\t/\\t/g'
}

# A task waiting on each kind of thing; main waits in a scope. Every traceback must start at
# the user's call (event, lock, semaphore, future, queue, gather, first, as_completed, scope).
@test "deadlock dump: each wait's traceback is the user's frames, the API call on top" {
    lua waits.lua <<'EOF'
local ev, lock, sem = async.event(), async.lock(), async.semaphore(0)
local fut, q = async.future(), async.queue()
lock:acquire()
local function child(name, fn) async.spawn(fn).name = name end
child("event", function() ev:wait() end)
child("lock", function() lock:acquire() end)
child("semaphore", function() sem:acquire() end)
child("future", function() fut:await() end)
child("queue", function() q:get() end)
child("gather", function()
  async.gather({async.spawn(function() ev:wait() end)})
end)
child("first", function() async.first({async.spawn(function() ev:wait() end)}) end)
child("as_completed", function()
  for _ in async.as_completed({async.spawn(function() ev:wait() end)}) do end
end)
local function inner()
  return async.scope(function(s)
    s:spawn(function() lock:acquire() end)
  end)
end
async.scope(function(s)
  s:spawn(function() ev:wait() end)
  inner()
end)
EOF
    run -3 --separate-stderr "$ASYNCRUN" waits.lua
    printf '%s\n' "$stderr" > err
    assert_equal "$(head -1 err)" "asyncrun: deadlock: no task can run and nothing can wake the main task"
    assert_equal "$(dump_of err)" "$(cat <<'EOF'
tasks (14 live):
  task 1 (main) pending, waiting on tasks:1 at waits.lua:18
    stack traceback:
    \t[C]: in function 'async.scope'
    \twaits.lua:18: in upvalue 'inner'
    \twaits.lua:24: in function <waits.lua:22>
    \t[C]: in function 'async.scope'
    \twaits.lua:22: in main chunk
    \t[C]: in ?
    task 2 (event) pending, waiting on event at waits.lua:5
      stack traceback:
      \t[C]: in method 'wait'
      \twaits.lua:5: in function <waits.lua:5>
    task 3 (lock) pending, waiting on lock at waits.lua:6
      stack traceback:
      \t[C]: in method 'acquire'
      \twaits.lua:6: in function <waits.lua:6>
    task 4 (semaphore) pending, waiting on semaphore at waits.lua:7
      stack traceback:
      \t[C]: in method 'acquire'
      \twaits.lua:7: in function <waits.lua:7>
    task 5 (future) pending, waiting on future at waits.lua:8
      stack traceback:
      \t[C]: in method 'await'
      \twaits.lua:8: in function <waits.lua:8>
    task 6 (queue) pending, waiting on queue at waits.lua:9
      stack traceback:
      \t[C]: in method 'get'
      \twaits.lua:9: in function <waits.lua:9>
    task 7 (gather) pending, waiting on tasks:1 at waits.lua:11
      stack traceback:
      \t[C]: in function 'async.gather'
      \twaits.lua:11: in function <waits.lua:10>
      task 12 (task-12) pending, waiting on event at waits.lua:11
        stack traceback:
        \t[C]: in method 'wait'
        \twaits.lua:11: in function <waits.lua:11>
    task 8 (first) pending, waiting on tasks:1 at waits.lua:13
      stack traceback:
      \t[C]: in function 'async.first'
      \twaits.lua:13: in function <waits.lua:13>
      task 13 (task-13) pending, waiting on event at waits.lua:13
        stack traceback:
        \t[C]: in method 'wait'
        \twaits.lua:13: in function <waits.lua:13>
    task 9 (as_completed) pending, waiting on tasks:1 at waits.lua:15
      stack traceback:
      \t[C]: in for iterator 'for iterator'
      \twaits.lua:15: in function <waits.lua:14>
      task 14 (task-14) pending, waiting on event at waits.lua:15
        stack traceback:
        \t[C]: in method 'wait'
        \twaits.lua:15: in function <waits.lua:15>
    task 10 (task-10) pending, waiting on event at waits.lua:23
      stack traceback:
      \t[C]: in method 'wait'
      \twaits.lua:23: in function <waits.lua:23>
    task 11 (task-11) pending, waiting on lock at waits.lua:19
      stack traceback:
      \t[C]: in method 'acquire'
      \twaits.lua:19: in function <waits.lua:19>
EOF
)"
}

# Main waits on an event in a scope's body; a child gathers, another waits for a task with
# wait_for, a third polls for the file "go" (so that signal tests can end the run).
scene_script() {
    lua scene.lua <<'EOF'
local ev, lock = async.event(), async.lock()
lock:acquire()
async.spawn(function()
  async.wait_for(async.spawn(function() lock:acquire() end), 60)
end).name = "waiter"
async.spawn(function()
  while not io.open("go") do async.sleep(0.02) end
  ev:set()
  lock:release()
end).name = "ender"
local function body(s)
  s:spawn(function()
    async.gather({async.spawn(function() ev:wait() end)})
  end).name = "gatherer"
  async.sleep(0)
  local f = assert(io.open("ready.txt", "w"))
  f:write(assert(io.open("/proc/self/stat")):read("n"), "\n")
  f:close()
  ev:wait()
end
async.scope(body)
EOF
}

SCENE_DUMP=$(cat <<'EOF'
tasks (6 live):
  task 1 (main) pending, waiting on event at scene.lua:19
    stack traceback:
    \t[C]: in method 'wait'
    \tscene.lua:19: in function <scene.lua:11>
    \t[C]: in function 'async.scope'
    \tscene.lua:21: in main chunk
    \t[C]: in ?
    task 2 (waiter) pending, waiting on task:5 at scene.lua:4
      stack traceback:
      \t[C]: in function 'async.wait_for'
      \tscene.lua:4: in function <scene.lua:3>
      task 5 (task-5) pending, waiting on lock at scene.lua:4
        stack traceback:
        \t[C]: in method 'acquire'
        \tscene.lua:4: in function <scene.lua:4>
    task 3 (ender) pending, waiting on sleep:0.02 at scene.lua:7
      stack traceback:
      \t[C]: in function 'async.sleep'
      \tscene.lua:7: in function <scene.lua:6>
    task 4 (gatherer) pending, waiting on tasks:1 at scene.lua:13
      stack traceback:
      \t[C]: in function 'async.gather'
      \tscene.lua:13: in function <scene.lua:12>
      task 6 (task-6) pending, waiting on event at scene.lua:13
        stack traceback:
        \t[C]: in method 'wait'
        \tscene.lua:13: in function <scene.lua:13>
EOF
)

@test "--timeout dump: the user's frames only, through a scope, gather and wait_for" {
    scene_script
    run -124 --separate-stderr "$ASYNCRUN" --timeout=0.3 scene.lua
    printf '%s\n' "$stderr" > err
    assert_equal "$(head -1 err)" "asyncrun: timeout: the run exceeded 0.3 s"
    assert_equal "$(dump_of err)" "$SCENE_DUMP"
}

@test "SIGUSR1 and SIGQUIT dumps: the user's frames only; the run goes on" {
    scene_script
    timeout 20 env --default-signal=QUIT "$ASYNCRUN" scene.lua > out 2> err &
    pid=$!
    local i
    for i in $(seq 500); do [ -s ready.txt ] && break; sleep 0.01; done
    [ -s ready.txt ] || fail "the script never got ready: $(cat err)"
    kill -USR1 "$(cat ready.txt)"
    wait_for_line err "asyncrun: task dump (the run goes on)"
    kill -QUIT "$(cat ready.txt)"
    for i in $(seq 500); do
        [ "$(grep -c '^asyncrun: task dump' err)" -eq 2 ] && break
        sleep 0.01
    done
    touch go
    wait_exit 10
    assert_equal "$status" 0
    # the two dumps, each in a file of its own
    awk '/^asyncrun: task dump/ { n++ } n { print > ("dump" n) }' err
    assert_equal "$(dump_of dump1)" "$SCENE_DUMP"
    assert_equal "$(dump_of dump2)" "$SCENE_DUMP"
}

@test "shutdown report: a task that outlives its cancellation is shown by the user's frames" {
    lua stubborn.lua <<'EOF'
local ev = async.event()
local function hold()
  async.shield(function() ev:wait() end)
end
async.spawn(function()
  async.scope(function(s) hold() end)
end).name = "stubborn"
async.sleep(0)
EOF
    run -0 --separate-stderr "$ASYNCRUN" stubborn.lua
    printf '%s\n' "$stderr" > err
    assert_equal "$(head -1 err)" "asyncrun: 1 task(s) did not finish after cancellation at shutdown:"
    assert_equal "$(dump_of err)" "$(cat <<'EOF'
tasks (1 live):
  task 2 (stubborn) pending cancelling, waiting on event at stubborn.lua:3
    stack traceback:
    \t[C]: in method 'wait'
    \tstubborn.lua:3: in function <stubborn.lua:3>
    \t[C]: in function 'async.shield'
    \tstubborn.lua:3: in upvalue 'hold'
    \tstubborn.lua:6: in function <stubborn.lua:6>
    \t[C]: in function 'async.scope'
    \tstubborn.lua:6: in function <stubborn.lua:5>
EOF
)"
}

@test "a task whose frames are all asyncrun's own names the user's call that made it; --debug shows them" {
    run -124 --separate-stderr "$ASYNCRUN" --timeout=0.2 -e '
        local srv = async.tcp.listen("127.0.0.1", 0, function() end)
        async.sleep(10)'
    printf '%s\n' "$stderr" > err
    assert_equal "$(dump_of err | tail -1 | sed 's/:[0-9]*)/:PORT)/; s/accept:[0-9]*/accept:FD/')" \
        "    task 2 (server:PORT) pending, waiting on accept:FD, spawned at (command line):2 (its body is asyncrun's own)"
    [[ $stderr != *"[async]"* && $stderr != *" at ?"* ]] || fail "$stderr"
    run -124 --separate-stderr "$ASYNCRUN" --debug --timeout=0.2 -e '
        local srv = async.tcp.listen("127.0.0.1", 0, function() end)
        async.sleep(10)'
    stderr_has "in method 'accept'"
}

# --- error tracebacks -------------------------------------------------------------------

@test "error tracebacks: an error raised by the API starts at the user's call" {
    lua unlock.lua <<'EOF'
local function unlock(l) l:release() end
unlock(async.lock())
EOF
    run -1 --separate-stderr "$ASYNCRUN" unlock.lua
    assert_equal "$stderr" "asyncrun: unlock.lua:1: release of an unlocked lock
stack traceback:
	[C]: in method 'release'
	unlock.lua:1: in local 'unlock'
	unlock.lua:2: in main chunk
	[C]: in ?"
    lua future.lua <<'EOF'
local f = async.future()
async.spawn(function() f:fail("no answer") end)
local function get() return f:await() end
print(get())
EOF
    run -1 --separate-stderr "$ASYNCRUN" future.lua
    assert_equal "$stderr" "asyncrun: no answer
stack traceback:
	[C]: in method 'await'
	future.lua:3: in local 'get'
	future.lua:4: in main chunk
	[C]: in ?"
}

@test "error tracebacks: a failure that came through gather or a scope names who awaited it" {
    lua chain.lua <<'EOF'
local function work()
  async.sleep(0)
  error("deep")
end
local function run_all()
  return async.gather({async.spawn(work)})
end
run_all()
EOF
    run -1 --separate-stderr "$ASYNCRUN" chain.lua
    assert_equal "$stderr" "asyncrun: chain.lua:3: deep
stack traceback:
	[C]: in function 'error'
	chain.lua:3: in function <chain.lua:1>
	awaited by task 1 (main) at chain.lua:6"
    lua scope.lua <<'EOF'
async.scope(function(s)
  s:spawn(function() error("child broke") end)
  async.sleep(1)
end)
EOF
    run -1 --separate-stderr "$ASYNCRUN" scope.lua
    assert_equal "$stderr" "asyncrun: scope.lua:2: child broke
stack traceback:
	[C]: in function 'error'
	scope.lua:2: in function <scope.lua:2>
	awaited by task 1 (main) at scope.lua:1"
}

@test "--debug: dumps and error tracebacks show asyncrun's own frames too" {
    lua unlock.lua <<'EOF'
local function unlock(l) l:release() end
unlock(async.lock())
EOF
    run -1 --separate-stderr "$ASYNCRUN" --debug unlock.lua
    assert_equal "$(sed 's/\[async\]:[0-9]*/[async]:N/g' <<< "$stderr")" "asyncrun: unlock.lua:1: release of an unlocked lock
stack traceback:
	[C]: in function 'error'
	[async]:N: in function <[async]:N>
	[C]: in method 'release'
	unlock.lua:1: in local 'unlock'
	unlock.lua:2: in main chunk
	[C]: in ?"
    run -3 --separate-stderr "$ASYNCRUN" --debug -e 'local ev = async.event() ev:wait()'
    printf '%s\n' "$stderr" > err
    assert_equal "$(dump_of err | sed 's/\[async\]:[0-9]*/[async]:N/g')" "$(cat <<'EOF'
tasks (1 live):
  task 1 (main) pending, waiting on event at (command line):1
    stack traceback:
    \t[C]: in method 'park'
    \t[async]:N: in function <[async]:N>
    \t[C]: in method 'wait'
    \t(command line):1: in main chunk
    \t[C]: in ?
EOF
)"
}

@test "a deep recursion's traceback keeps the first and last of the user's frames, as lua's does" {
    run -1 --separate-stderr "$ASYNCRUN" -e '
        local function rec(n) return 1 + rec(n + 1) end
        async.scope(function() rec(1) end)'
    [ "${#stderr_lines[@]}" -lt 30 ] || fail "$stderr"
    run -1 --separate-stderr "$ASYNCRUN" -e '
local function rec(n) if n == 0 then async.lock():release() end return 1 + rec(n - 1) end
rec(100)'
    assert_equal "${stderr_lines[0]}" "asyncrun: (command line):2: release of an unlocked lock"
    assert_equal "${stderr_lines[2]}" "	[C]: in method 'release'"
    assert_equal "${stderr_lines[3]}" "	(command line):2: in upvalue 'rec'"
    # 104 frames of the user's: the call, 101 of rec, the main chunk, its caller
    assert_equal "${stderr_lines[12]}" "	...	(skipping 83 levels)"
    assert_equal "${stderr_lines[21]}" "	(command line):2: in local 'rec'"
    assert_equal "${stderr_lines[22]}" "	(command line):3: in main chunk"
    assert_equal "${stderr_lines[23]}" "	[C]: in ?"
    assert_equal "${#stderr_lines[@]}" 24
}

@test "the man page's wait.lua example prints the dump its DIAGNOSTICS section shows" {
    # the two .EX blocks after "For this wait.lua": the script, then what asyncrun prints
    awk '/^\.BR wait\.lua/ { on = 1 } on && /^\.EX/ { n++; ex = 1; next }
         ex && /^\.EE/ { ex = 0; if (n == 2) exit; next } ex { print > ("block" n) }' "$SRC/man/asyncrun.1"
    sed -i 's/\\(aq/'"'"'/g; s/\\-/-/g' block1 block2
    mv block1 wait.lua
    run -3 --separate-stderr "$ASYNCRUN" wait.lua
    assert_equal "$(printf '%s\n' "$stderr" | expand)" "$(cat block2)"
}

# --- waiting on oneself -----------------------------------------------------------------

@test "gather, first, as_completed, wait_for and await on the current task raise: status 1, no deadlock" {
    local call want
    while IFS='|' read -r call want; do
        run -1 --separate-stderr "$ASYNCRUN" -e "local other = async.spawn(async.sleep, 0)
$call"
        assert_equal "${stderr_lines[0]}" "asyncrun: (command line):2: $want"
        stderr_has "	(command line):2: in main chunk"
        [[ $stderr != *deadlock* && $stderr != *"did not finish"* ]] || fail "$stderr"
    done <<'EOF'
async.gather({other, async.current()})|bad argument #1 to 'gather' (a task cannot await itself: the task at index 2 is the current one)
async.first({async.current(), other})|bad argument #1 to 'first' (a task cannot await itself: the task at index 1 is the current one)
for t in async.as_completed({other, async.current()}) do end|bad argument #1 to 'as_completed' (a task cannot await itself: the task at index 2 is the current one)
async.wait_for(async.current(), 1)|bad argument #1 to 'wait_for' (a task cannot await itself)
async.current():await()|a task cannot await itself
EOF
}

@test "a spawned task gathering itself fails at once; main, awaiting it, gets the error" {
    run -1 --separate-stderr "$ASYNCRUN" -e '
local t = async.spawn(function() return async.gather({async.current()}) end)
t:await()'
    assert_equal "$stderr" "asyncrun: (command line):2: bad argument #1 to 'gather' (a task cannot await itself: the task at index 1 is the current one)
stack traceback:
	[C]: in function 'async.gather'
	(command line):2: in function <(command line):2>
	awaited by task 1 (main) at (command line):3"
}

# --- name lookups -----------------------------------------------------------------------

@test "a name lookup in progress does not hold up the end of the run" {
    # the name server does not answer: a run that awaits the lookup is held until --timeout
    run -124 --separate-stderr with_silent_dns "$ASYNCRUN" --timeout=0.5 -e '
        print(async.resolve("example.com"))'
    stderr_has "waiting on resolve:example.com"
    # the lookups of a task that main leaves behind: 6, more than the 4 workers, so that some
    # wait in the queue (getaddrinfo gives up after 30 s: under 15 is not waiting for it, with
    # room for a loaded machine)
    SECONDS=0
    DNS_TIMEOUT=30 run -0 --separate-stderr with_silent_dns "$ASYNCRUN" -e '
        for i = 1, 6 do async.spawn(async.resolve, "host" .. i .. ".example.com") end
        async.sleep(0.1)
        print("main done")'
    [ "$SECONDS" -lt 15 ] || fail "the run took $SECONDS s: it waited for getaddrinfo"
    assert_output "main done"
    assert_equal "$stderr" ""
}
