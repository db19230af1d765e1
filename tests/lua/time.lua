-- async.sleep / async.now (SPEC §3 "Time")
local T = require "testlib"

T.case("now() is a number and monotonic non-decreasing", function()
  local prev = async.now()
  T.eq(type(prev), "number", "type of now()")
  for i = 1, 2000 do
    local n = async.now()
    if n < prev then error("now() went backwards: " .. prev .. " -> " .. n) end
    prev = n
    if i % 200 == 0 then async.sleep(0) end
  end
end)

T.case("now() is read at the call, not cached per loop turn", function()
  local t0 = async.now()
  local deadline = os.time() + 3
  repeat until async.now() - t0 >= 0.02 or os.time() > deadline   -- busy wait, no suspension
  T.ok(async.now() - t0 >= 0.02, "now() advanced during a busy step")
end)

T.case("a sleep of 0.1 s takes at least 0.09 s and less than 2 s", function()
  local t0 = async.now()
  async.sleep(0.1)
  local dt = async.now() - t0
  T.ok(dt >= 0.09, "slept long enough (" .. dt .. ")")
  T.ok(dt < 2, "did not sleep far too long (" .. dt .. ")")
end)

T.case("a sleep of 0.05 advances now() by at least 0.045", function()
  local t0 = async.now()
  async.sleep(0.05)
  local dt = async.now() - t0
  T.ok(dt >= 0.045, "advanced by " .. dt)
  T.ok(dt < 2, "not far too long: " .. dt)
end)

T.case("sleep returns nothing", function()
  T.eq(select('#', async.sleep(0)), 0, "results of sleep(0)")
  T.eq(select('#', async.sleep(0.001)), 0, "results of sleep(0.001)")
end)

T.case("sleeping tasks wake in deadline order", function()
  local order = {}
  local tasks = {}
  for _, d in ipairs({0.06, 0.02, 0.08, 0.04, 0.0, 0.01}) do
    tasks[#tasks + 1] = async.spawn(function()
      async.sleep(d)
      order[#order + 1] = d
    end)
  end
  for _, t in ipairs(tasks) do t:await() end
  T.eq(table.concat(order, " "), "0.0 0.01 0.02 0.04 0.06 0.08", "wake order")
end)

T.case("deadlines are measured from the moment sleep is called", function()
  local order = {}
  -- A sleeps 0.2 from t=0; B first sleeps 0.03, then 0.01: B's second deadline (~0.04)
  -- is before A's, whatever the order the tasks were spawned in.
  local a = async.spawn(function() async.sleep(0.2); order[#order + 1] = "A" end)
  local b = async.spawn(function()
    async.sleep(0.03); order[#order + 1] = "B1"
    async.sleep(0.01); order[#order + 1] = "B2"
  end)
  a:await(); b:await()
  T.eq(table.concat(order, " "), "B1 B2 A", "order")
end)

T.case("a sleep after a long step is measured from the call, not from the loop turn", function()
  -- the step runs 0.08 s without suspending; a loop that measured the sleep from a time cached
  -- at the start of the turn would end this sleep at once
  local busy = async.now()
  local deadline = os.time() + 3
  repeat until async.now() - busy >= 0.08 or os.time() > deadline
  local t0 = async.now()
  async.sleep(0.05)
  local dt = async.now() - t0
  T.ok(dt >= 0.045, "the sleep after a busy step lasted " .. dt)
  -- the same in a task that was just woken
  local t = async.spawn(function()
    async.sleep(0)
    local b = async.now()
    repeat until async.now() - b >= 0.08 or os.time() > deadline
    local s = async.now()
    async.sleep(0.05)
    return async.now() - s
  end)
  local dt2 = t:await()
  T.ok(dt2 >= 0.045, "in a task: the sleep after a busy step lasted " .. dt2)
end)

T.case("sleep(0) lets every other ready task run first (round robin)", function()
  local log = {}
  local function worker(name)
    return async.spawn(function()
      for i = 1, 3 do
        log[#log + 1] = name .. i
        async.sleep(0)
      end
    end)
  end
  local a, b, c = worker("A"), worker("B"), worker("C")
  a:await(); b:await(); c:await()
  T.eq(table.concat(log, " "), "A1 B1 C1 A2 B2 C2 A3 B3 C3", "round-robin order")
end)

T.case("sleep(0) in main runs all ready tasks before main goes on", function()
  local n = 0
  for _ = 1, 10 do async.spawn(function() n = n + 1 end) end
  async.sleep(0)
  T.eq(n, 10, "every ready task ran during one sleep(0)")
end)

T.case("sleep(0) does not wait for pending timers", function()
  local log = {}
  local sleeper = async.spawn(function() async.sleep(1); log[#log + 1] = "timer" end)
  local spinner = async.spawn(function()
    for i = 1, 5 do log[#log + 1] = "spin" .. i; async.sleep(0) end
  end)
  spinner:await()
  T.eq(table.concat(log, " "), "spin1 spin2 spin3 spin4 spin5", "sleep(0) does not wait for timers")
  sleeper:cancel()
  pcall(sleeper.await, sleeper)
end)

T.case("a negative sleep acts like sleep(0)", function()
  local log = {}
  local other = async.spawn(function() log[#log + 1] = "other" end)
  local t0 = async.now()
  async.sleep(-1)
  log[#log + 1] = "main"
  T.ok(async.now() - t0 < 0.5, "returned at once")
  T.eq(table.concat(log, " "), "other main", "the negative sleep let the other task run")
  other:await()
  local t1 = async.now()
  async.sleep(-math.huge)
  T.ok(async.now() - t1 < 0.5, "-inf returned at once")
end)

T.case("sleep(0) yields even when no other task exists", function()
  local t0 = async.now()
  for _ = 1, 100 do async.sleep(0) end
  T.ok(async.now() - t0 < 1, "100 sleep(0) are fast")
end)

T.case("bad arguments raise standard argument errors", function()
  T.raises("bad argument #1 to 'sleep'", function() async.sleep("x") end)
  T.raises("bad argument #1 to 'sleep' (number expected, got no value)",
    function() async.sleep() end)
  T.raises("bad argument #1 to 'sleep'", function() async.sleep({}) end)
  T.raises("bad argument #1 to 'sleep'", function() async.sleep(nil) end)
  T.raises("bad argument #1 to 'sleep'", function() async.sleep(true) end)
  T.raises("bad argument #1 to 'sleep'", function() async.sleep(0 / 0) end)
  T.raises("bad argument #1 to 'sleep'", function() async.sleep(-(0 / 0)) end)
end)

T.case("a bad argument does not suspend or disturb the task", function()
  local other_ran = false
  async.spawn(function() other_ran = true end)
  pcall(function() async.sleep("x") end)
  pcall(function() async.sleep(0 / 0) end)
  T.eq(other_ran, false, "a failed sleep call suspended")
  async.sleep(0)
  T.eq(other_ran, true, "the next sleep works")
end)

T.case("sleep in many tasks at once", function()
  local count = 0
  local tasks = {}
  local t0 = async.now()
  for i = 1, 500 do
    tasks[i] = async.spawn(function() async.sleep(0.05); count = count + 1 end)
  end
  for i = 1, 500 do tasks[i]:await() end
  local dt = async.now() - t0
  T.eq(count, 500, "every sleeper woke")
  T.ok(dt >= 0.045, "they slept (" .. dt .. ")")
  T.ok(dt < 2, "concurrently, not one after the other (" .. dt .. ")")
end)

T.finish()
