#!/usr/bin/env bats
# No error disappears, and a real error wins over a cancellation (SPEC §3, issue 19): the
# exit status and standard error side. A program that caught what a scope, gather or
# wait_for raised ends 0 with nothing reported; one that did not sees every error.
# The behaviour in Lua is in tests/lua/structured.lua.

load helpers

setup() {
    clean_environment
}

@test "a caught scope error with clean-up errors: exit 0, nothing on stderr" {
    s=$(script <<'EOF2'
local ok, err = pcall(async.scope, function(s)
  s:spawn(function() async.sleep(0.01); error("root cause", 0) end)
  s:spawn(function() pcall(async.sleep, 10); error("sibling cleanup", 0) end)
  pcall(async.sleep, 10)
  error("body cleanup", 0)
end)
for i, e in ipairs(async.errors(err)) do print(i, e) end
collectgarbage()
async.sleep(0)
EOF2
)
    run -0 --separate-stderr "$ASYNCRUN" "$s"
    assert_output "1	root cause
2	body cleanup
3	sibling cleanup"
    [ -z "$stderr" ] || fail "stderr: $stderr"
}

@test "an uncaught scope error: exit 1, the root cause and each clean-up error on stderr" {
    s=$(script <<'EOF2'
async.scope(function(s)
  s:spawn(function() async.sleep(0.01); error("root cause", 0) end)
  s:spawn(function() pcall(async.sleep, 10); error("sibling cleanup", 0) end)
  pcall(async.sleep, 10)
  error("body cleanup", 0)
end)
EOF2
)
    run -1 --separate-stderr "$ASYNCRUN" "$s"
    assert_output ""
    [[ $stderr == "asyncrun: root cause"* ]] || fail "stderr: $stderr"
    stderr_has "also raised: body cleanup"
    stderr_has "also raised: sibling cleanup"
    [[ $stderr != *"nobody awaited"* ]] || fail "a child reported as unretrieved: $stderr"
}

@test "a child's error during the cancellation of its scope's task is not lost: exit 1" {
    s=$(script <<'EOF2'
local runner = async.spawn(function()
  async.scope(function(s)
    s:spawn(function() pcall(async.sleep, 10); error("child cleanup", 0) end)
    async.sleep(10)
  end)
end)
async.sleep(0.01)
runner:cancel()
async.sleep(0.05)
print(runner:status())
EOF2
)
    run -1 --separate-stderr "$ASYNCRUN" "$s"
    assert_output "failed"
    stderr_has "failed and nobody awaited it: child cleanup"
}

@test "wait_for at its deadline raises the task's own error; caught: exit 0, nothing reported" {
    s=$(script <<'EOF2'
local t = async.spawn(function() pcall(async.sleep, 10); error("own error", 0) end)
print(pcall(async.wait_for, t, 0.01))
collectgarbage()
async.sleep(0)
EOF2
)
    run -0 --separate-stderr "$ASYNCRUN" "$s"
    assert_output "false	own error"
    [ -z "$stderr" ] || fail "stderr: $stderr"
}

@test "gather: the clean-up errors of the other tasks are listed when nobody catches" {
    s=$(script <<'EOF2'
local a = async.spawn(function() async.sleep(0.01); error("first failure", 0) end)
local b = async.spawn(function() pcall(async.sleep, 10); error("b cleanup", 0) end)
async.gather({ a, b })
EOF2
)
    run -1 --separate-stderr "$ASYNCRUN" "$s"
    [[ $stderr == "asyncrun: first failure"* ]] || fail "stderr: $stderr"
    stderr_has "also raised: b cleanup"
    [[ $stderr != *"nobody awaited"* ]] || fail "a gathered task reported as unretrieved: $stderr"
}

@test "shutdown: a task whose scope fails during the shutdown cancellation is reported, exit 1" {
    s=$(script <<'EOF2'
async.spawn(function()
  async.scope(function(s)
    s:spawn(function() pcall(async.sleep, 10); error("child cleanup at shutdown", 0) end)
    s:spawn(function() pcall(async.sleep, 10); error("second cleanup at shutdown", 0) end)
    async.sleep(10)
  end)
end)
async.sleep(0.01)
print("main done")
EOF2
)
    run -1 --separate-stderr "$ASYNCRUN" "$s"
    assert_output "main done"
    stderr_has "failed and nobody awaited it: child cleanup at shutdown"
    stderr_has "also raised: second cleanup at shutdown"
}

@test "shutdown: tasks and scopes that end cancelled are not reported, exit 0" {
    s=$(script <<'EOF2'
async.spawn(function()
  async.scope(function(s)
    s:spawn(function() local ok, e = pcall(async.sleep, 10); async.shield(async.sleep, 0.01); error(e, 0) end)
    async.sleep(10)
  end)
end)
async.spawn(function() async.sleep(10) end)
async.sleep(0.01)
print("main done")
EOF2
)
    run -0 --separate-stderr "$ASYNCRUN" "$s"
    assert_output "main done"
    [ -z "$stderr" ] || fail "stderr: $stderr"
}

@test "a report lists at most 20 errors raised with the one reported, then their count" {
    s=$(script <<'EOF2'
local tasks = { async.spawn(function() async.sleep(0.01); error("first failure", 0) end) }
for i = 1, 30 do
  tasks[#tasks + 1] = async.spawn(function() pcall(async.sleep, 10); error("cleanup " .. i, 0) end)
end
async.gather(tasks)
EOF2
)
    run -1 --separate-stderr "$ASYNCRUN" "$s"
    [ "$(grep -c '^also raised: cleanup ' <<<"$stderr")" -eq 20 ] || fail "stderr: $stderr"
    stderr_has "also raised: cleanup 20"
    stderr_has "and 10 more errors raised with it"
}

@test "--timeout: a child's clean-up error during the main task's cancellation is printed" {
    s=$(script <<'EOF2'
async.scope(function(s)
  s:spawn(function() pcall(async.sleep, 10); error("child cleanup after --timeout", 0) end)
  async.sleep(10)
end)
EOF2
)
    run -124 --separate-stderr "$ASYNCRUN" --timeout 0.1 "$s"
    stderr_has "asyncrun: timeout: the run exceeded 0.1 s"
    stderr_has "asyncrun: child cleanup after --timeout"
}

@test "-i: a chunk's error is printed with the errors raised with it" {
    run -0 --separate-stderr "$ASYNCRUN" -i <<'EOF2'
async.scope(function(s) s:spawn(function() async.sleep(0.01); error("A", 0) end); pcall(async.sleep, 10); error("B", 0) end)
EOF2
    [ "$stderr" = "A
also raised: B" ] || fail "stderr: $stderr"
}
