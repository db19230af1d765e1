#!/usr/bin/env bats
# --fake-time (SPEC §1), plus the command-line side of the concurrency toolkit (SPEC §3):
# timers of finished timeouts do not delay deadlock detection, and combinators, nurseries
# and futures retrieve the errors they are responsible for (nothing on stderr).

load helpers

# Nanoseconds since the epoch (for real-time bounds).
now_ns() { date +%s%N; }

# Asserts that the real time since $1 (from now_ns) is under $2 milliseconds.
assert_faster_than() {
    local ms=$(( ($(now_ns) - $1) / 1000000 ))
    (( ms < $2 )) || fail "took ${ms} ms of real time, expected under $2 ms"
}

# --fake-time ------------------------------------------------------------------------------

@test "fake-time: 100 tasks sleeping 3600 s in total finish in under a second" {
    s=$(script <<'EOF2'
local t0 = async.now()
local tasks = {}
for i = 1, 100 do
  tasks[i] = async.spawn(function()
    for _ = 1, 4 do async.sleep(9) end   -- 36 s each, 3600 s in all
    return async.now() - t0
  end)
end
local last = 0
for i = 1, 100 do last = math.max(last, tasks[i]:await()) end
local dt = async.now() - t0
print(string.format("elapsed %.3f", dt))
print(dt >= 36 and dt < 37 and "virtual ok" or "virtual wrong")
print(last >= 36 and last < 37 and "tasks ok" or "tasks wrong")
EOF2
)
    start=$(now_ns)
    run -0 "$ASYNCRUN" --fake-time "$s"
    assert_faster_than "$start" 1000
    assert_line "virtual ok"
    assert_line "tasks ok"
}

@test "fake-time: async.now() advances by exactly the virtual sleep" {
    s=$(script <<'EOF2'
local t0 = async.now()
async.sleep(1000)
local d1 = async.now() - t0
async.sleep(0.5)
local d2 = async.now() - t0
print(d1 >= 1000 and d1 < 1000.1 and "first ok" or ("first " .. d1))
print(d2 >= 1000.5 and d2 < 1000.6 and "second ok" or ("second " .. d2))
EOF2
)
    start=$(now_ns)
    run -0 "$ASYNCRUN" --fake-time "$s"
    assert_faster_than "$start" 1000
    assert_output "first ok
second ok"
}

@test "fake-time: events happen in the same order as in real time" {
    s=$(script <<'EOF2'
local ev = async.event()
local q = async.queue(1)
local tasks = {
  async.spawn(function() async.sleep(0.03); print("a 0.03"); ev:set(); async.sleep(0.02); print("a 0.05") end),
  async.spawn(function() async.sleep(0.01); print("b 0.01"); ev:wait(); print("b after event") end),
  async.spawn(function() async.sleep(0.02); print("c 0.02"); q:put("c"); q:put("c2"); print("c put") end),
  async.spawn(function() async.sleep(0.04); print("d got " .. q:get()); print("d got " .. q:get()) end),
  async.spawn(function()
    local ok = pcall(async.timeout, 0.015, async.sleep, 1)
    print("e timeout " .. tostring(not ok))
  end),
}
async.gather(tasks)
print("end")
EOF2
)
    expected="b 0.01
e timeout true
c 0.02
a 0.03
b after event
d got c
d got c2
c put
a 0.05
end"
    run -0 "$ASYNCRUN" "$s"
    assert_output "$expected"
    run -0 "$ASYNCRUN" --fake-time "$s"
    assert_output "$expected"
}

@test "fake-time: the clock does not jump while a task can run" {
    s=$(script <<'EOF2'
local log = {}
local t0 = async.now()
local busy = async.spawn(function()
  for _ = 1, 1000 do async.sleep(0) end
  log[#log + 1] = "busy done at " .. (async.now() - t0 < 0.5 and "~0" or tostring(async.now() - t0))
end)
local sleeper = async.spawn(function()
  async.sleep(100)
  log[#log + 1] = string.format("sleeper woke at %.1f", async.now() - t0)
end)
async.gather({ busy, sleeper })
print(table.concat(log, ", "))
EOF2
)
    start=$(now_ns)
    run -0 "$ASYNCRUN" --fake-time "$s"
    assert_faster_than "$start" 1000
    assert_output "busy done at ~0, sleeper woke at 100.0"
}

@test "fake-time: async.timeout(30, async.sleep, 3600) raises timeout instantly" {
    s=$(script <<'EOF2'
local t0 = async.now()
local ok, err = pcall(async.timeout, 30, async.sleep, 3600)
local dt = async.now() - t0
print(ok, async.is_timeout(err), tostring(err))
print(dt >= 30 and dt < 30.1 and "at 30 s of virtual time" or ("at " .. dt))
EOF2
)
    start=$(now_ns)
    run -0 "$ASYNCRUN" --fake-time "$s"
    assert_faster_than "$start" 1000
    assert_output "false	true	timeout
at 30 s of virtual time"
}

@test "fake-time: wait_for expires in virtual time and cancels the task" {
    s=$(script <<'EOF2'
local t = async.spawn(function() async.sleep(3600) end)
local ok, err = pcall(async.wait_for, t, 60)
print(ok, async.is_timeout(err), t:status())
EOF2
)
    start=$(now_ns)
    run -0 "$ASYNCRUN" --fake-time "$s"
    assert_faster_than "$start" 1000
    assert_output "false	true	cancelled"
}

@test "fake-time: --trace shows event=timeout" {
    s=$(script <<'EOF2'
pcall(async.timeout, 30, async.sleep, 3600)
EOF2
)
    run -0 "$ASYNCRUN" --trace --fake-time "$s"
    assert_line --regexp '^trace: .*event=timeout'
}

@test "fake-time: a deadlock is still reported (exit 3)" {
    s=$(script <<'EOF2'
local main = async.current()
local t = async.spawn(function() main:await() end)
t:await()
EOF2
)
    start=$(now_ns)
    run -3 timeout 20 "$ASYNCRUN" --fake-time "$s"
    assert_faster_than "$start" 2000
    assert_output --partial "deadlock"
}

@test "fake-time: a deadlock after long virtual sleeps is reported (exit 3)" {
    s=$(script <<'EOF2'
local ev = async.event()
async.spawn(function() async.sleep(3600); print("slept an hour") end)
ev:wait()
EOF2
)
    start=$(now_ns)
    run -3 timeout 20 "$ASYNCRUN" --fake-time "$s"
    assert_faster_than "$start" 2000
    assert_output --partial "slept an hour"
    assert_output --partial "deadlock"
}

# timers of finished scopes ---------------------------------------------------------------

@test "a timeout that returned early stops its timer: a later deadlock is reported at once" {
    s=$(script <<'EOF2'
local main = async.current()
async.timeout(100, function() end)
local t = async.spawn(function() main:await() end)
t:await()
EOF2
)
    start=$(now_ns)
    run -3 timeout 20 "$ASYNCRUN" "$s"
    assert_faster_than "$start" 3000
    assert_output --partial "deadlock"
}

@test "a timeout whose fn raised stops its timer: a later deadlock is reported at once" {
    s=$(script <<'EOF2'
local main = async.current()
print(pcall(async.timeout, 100, function() async.sleep(0); error("early", 0) end))
local t = async.spawn(function() main:await() end)
t:await()
EOF2
)
    start=$(now_ns)
    run -3 timeout 20 "$ASYNCRUN" "$s"
    assert_faster_than "$start" 3000
    assert_output --partial "false	early"
    assert_output --partial "deadlock"
}

@test "wait_for that returned stops its timer: a later deadlock is reported at once" {
    s=$(script <<'EOF2'
local main = async.current()
print(async.wait_for(async.spawn(function() return "quick" end), 100))
local t = async.spawn(function() main:await() end)
t:await()
EOF2
)
    start=$(now_ns)
    run -3 timeout 20 "$ASYNCRUN" "$s"
    assert_faster_than "$start" 3000
    assert_output --partial "quick"
    assert_output --partial "deadlock"
}

# errors retrieved by the toolkit (no "failed and nobody awaited it") -----------------------

@test "gather retrieves every gathered task's error" {
    s=$(script <<'EOF2'
local a = async.spawn(function() async.sleep(0.01); error("first failure", 0) end)
local b = async.spawn(function()
  pcall(async.sleep, 10)
  error("second failure, in cleanup", 0)
end)
local c = async.spawn(function() async.sleep(10) end)
local ok, err = pcall(async.gather, { a, b, c })
print(ok, err, a:status(), b:status(), c:status())
collectgarbage()
async.sleep(0)
EOF2
)
    run -0 "$ASYNCRUN" "$s"
    assert_output "false	first failure	failed	failed	cancelled"
    refute_output --partial "nobody awaited"
}

@test "scope retrieves the later errors of its children" {
    s=$(script <<'EOF2'
local sib
local ok, err = pcall(async.scope, function(s)
  s:spawn(function() async.sleep(0.01); error("first", 0) end)
  sib = s:spawn(function() pcall(async.sleep, 10); error("later, in cleanup", 0) end)
end)
print(ok, err, sib:status())
-- a body error, and a child failing while it is cancelled
local ok2, err2 = pcall(async.scope, function(s)
  sib = s:spawn(function() pcall(async.sleep, 10); error("child, in cleanup", 0) end)
  async.sleep(0.01)
  error("body", 0)
end)
print(ok2, err2, sib:status())
collectgarbage()
async.sleep(0)
EOF2
)
    run -0 "$ASYNCRUN" "$s"
    assert_output "false	first	failed
false	body	failed"
    refute_output --partial "nobody awaited"
}

@test "a failed future that nobody awaited is not reported" {
    s=$(script <<'EOF2'
local f = async.future()
f:fail("never awaited")
f = nil
collectgarbage()
async.sleep(0)
print("end")
EOF2
)
    run -0 "$ASYNCRUN" "$s"
    assert_output "end"
}

@test "first and as_completed do not retrieve errors: only result/await does" {
    s=$(script <<'EOF2'
local bad = async.spawn(function() async.sleep(0.01); error("unretrieved failure", 0) end)
local slow = async.spawn(function() async.sleep(0.03) end)
assert(async.first({ bad, slow }) == bad)
for t in async.as_completed({ bad, slow }) do end
print("end")
EOF2
)
    run -1 "$ASYNCRUN" "$s"
    assert_line "end"
    assert_output --partial "nobody awaited"
    assert_output --partial "unretrieved failure"
}

@test "first and as_completed: an error retrieved with result is not reported" {
    s=$(script <<'EOF2'
local bad = async.spawn(function() async.sleep(0.01); error("retrieved failure", 0) end)
local slow = async.spawn(function() async.sleep(0.03) end)
for t in async.as_completed({ slow, bad }) do print(pcall(t.result, t)) end
print("end")
EOF2
)
    run -0 "$ASYNCRUN" "$s"
    assert_output "false	retrieved failure
true
end"
}

# scopes entered in user coroutines ---------------------------------------------------------

@test "a generator yielding inside a timeout fails there; the task ends cleanly: no crash" {
    s=$(script <<'EOF2'
local t = async.spawn(function()
  local gen = coroutine.wrap(function()
    async.timeout(0.05, function() coroutine.yield("inside") end)
  end)
  return pcall(gen)
end)
print(t:await())
t = nil
collectgarbage()
collectgarbage()
async.sleep(0.1)
print("end")
EOF2
)
    run -0 "$ASYNCRUN" "$s"
    assert_output --regexp "^false	.*attempt to yield inside async.timeout.*
end$"
}

@test "closing a generator that failed inside a timeout, from inside another timeout: no crash" {
    s=$(script <<'EOF2'
local gen = coroutine.create(function()
  async.timeout(10, function() coroutine.yield("inside") end)
end)
print(coroutine.resume(gen))
async.timeout(10, function() print("close:", coroutine.close(gen)) end)
gen = nil
for _ = 1, 3 do collectgarbage() end
print("sleep:", pcall(async.sleep, 0.01))
EOF2
)
    run -0 "$ASYNCRUN" "$s"
    assert_output --regexp "^false	.*attempt to yield inside async.timeout.*
close:	false	.*
sleep:	true$"
}
