-- spawn / await / results / status / identity of tasks (SPEC §3 "Tasks")
local T = require "testlib"

T.case("spawn passes arguments and await returns the results", function()
  local t = async.spawn(function(a, b) async.sleep(0.01); return a + b, "two" end, 1, 2)
  T.eq(t:status(), "pending", "status before start")
  local x, y = t:await()
  T.eq(x, 3, "first result")
  T.eq(y, "two", "second result")
  T.eq(t:status(), "done", "status after")
end)

T.case("spawn passes every argument, nil holes included", function()
  local t = async.spawn(function(...) return select('#', ...), ... end, 1, nil, "c", nil)
  T.values(T.pack(t:await()), T.pack(4, 1, nil, "c", nil), "arguments seen by the task")
  local t0 = async.spawn(function(...) return select('#', ...) end)
  T.eq(t0:await(), 0, "no arguments")
end)

T.case("a task starts on a later turn, never inside spawn", function()
  local ran = false
  local t = async.spawn(function() ran = true end)
  T.eq(ran, false, "flag right after spawn")
  T.eq(t:status(), "pending", "status right after spawn")
  async.sleep(0)
  T.eq(ran, true, "flag after sleep(0)")
  T.eq(t:status(), "done", "status after sleep(0)")
end)

T.case("a task spawned from a task also starts later", function()
  local order = {}
  local outer = async.spawn(function()
    async.spawn(function() order[#order + 1] = "inner" end)
    order[#order + 1] = "after spawn"
  end)
  outer:await()
  async.sleep(0)
  T.eq(table.concat(order, ","), "after spawn,inner", "order")
end)

T.case("a task runs to the end with no reference kept", function()
  local side = {}
  async.spawn(function()
    async.sleep(0.02)
    collectgarbage()
    side.value = "reached the end"
  end)
  collectgarbage()
  collectgarbage()
  async.sleep(0.005)
  collectgarbage()
  for _ = 1, 200 do             -- up to 2 s
    if side.value then break end
    async.sleep(0.01)
    collectgarbage()
  end
  T.eq(side.value, "reached the end", "side effect of an unreferenced task")
end)

T.case("ids are unique integers, main is task 1", function()
  local main = async.current()
  T.eq(main.id, 1, "main id")
  T.eq(math.type(main.id), "integer", "id type")
  T.eq(main.name, "main", "main name")
  T.eq(main:status(), "running", "main status")
  local seen = {[1] = true}
  local tasks = {}
  for i = 1, 50 do
    local t = async.spawn(function() return i end)
    T.eq(math.type(t.id), "integer", "task id type")
    T.ok(not seen[t.id], "id " .. t.id .. " is unique")
    seen[t.id] = true
    tasks[i] = t
  end
  for i = 1, 50 do T.eq(tasks[i]:await(), i, "result") end
  -- ids are never reused, even after the tasks finished
  collectgarbage()
  local later = async.spawn(function() end)
  T.ok(not seen[later.id], "id of a later task is new")
  later:await()
end)

T.case("names: default task-<id>, assignable; other fields are not", function()
  local t = async.spawn(function() return async.current().name end)
  T.eq(t.name, "task-" .. t.id, "default name")
  t.name = "worker"
  T.eq(t.name, "worker", "assigned name")
  T.eq(t:await(), "worker", "the task sees its new name")
  T.raises("", function() t.foo = 1 end)
  T.raises("", function() t.id = 99 end)
  T.eq(t.id ~= 99, true, "id unchanged")
  T.eq(t.foo, nil, "no field was created")
  local s = tostring(t)
  T.contains(s, tostring(t.id), "tostring(task) mentions the id")
  T.contains(tostring(async.current()), "1", "tostring(main)")
end)

T.case("await returns 0, 1 or several results, nil holes kept", function()
  local function results(...)
    local args = table.pack(...)
    return T.pack(async.spawn(function() return table.unpack(args, 1, args.n) end):await())
  end
  T.values(results(), T.pack(), "no results")
  T.values(results(42), T.pack(42), "one result")
  T.values(results(1, nil, 3), T.pack(1, nil, 3), "nil hole")
  T.values(results(nil), T.pack(nil), "a single nil")
  T.values(results(nil, nil), T.pack(nil, nil), "two nils")
  T.values(results("a", "b", "c", "d", "e", "f", "g"), T.pack("a", "b", "c", "d", "e", "f", "g"),
    "several results")
  local many = {}
  for i = 1, 300 do many[i] = i end
  local r = T.pack(async.spawn(function() return table.unpack(many) end):await())
  T.eq(r.n, 300, "300 results")
  T.eq(r[300], 300, "last of 300 results")
  -- the results of a task that suspended first
  local t = async.spawn(function() async.sleep(0.01); return 1, nil, 3, nil end)
  T.values(T.pack(t:await()), T.pack(1, nil, 3, nil), "results after a sleep")
end)

T.case("await raises the task's error value unchanged", function()
  local t = async.spawn(function() error("boom") end)
  local err = T.fails(t.await, t)
  T.contains(err, "boom", "error message")
  T.contains(err, "tasks.lua:", "position info")
  T.eq(t:status(), "failed", "status")

  local etab = {code = 7}
  local t2 = async.spawn(function() async.sleep(0.005); error(etab) end)
  T.same(T.fails(t2.await, t2), etab, "error table identity")

  do
    local t3 = async.spawn(function() error(12) end)
    local v = T.fails(t3.await, t3)
    T.eq(math.type(v), "integer", "type of a number error value")
    T.eq(v, 12, "number error value")
  end
  local t3b = async.spawn(function() error(true) end)
  T.eq(T.fails(t3b.await, t3b), true, "boolean error value")
  local t4 = async.spawn(function() error("no position", 0) end)
  T.eq(T.fails(t4.await, t4), "no position", "level 0 error is unchanged")
  local t5 = async.spawn(function() error() end)
  T.eq(T.fails(t5.await, t5), nil, "nil error value")
end)

T.case("awaiting a finished task does not suspend and works repeatedly", function()
  local t = async.spawn(function() return "r", 2 end)
  t:await()
  T.eq(t:done(), true, "done")
  -- if await suspended, this other task would run in between
  local other_ran = false
  async.spawn(function() other_ran = true end)
  for i = 1, 3 do
    local a, b = t:await()
    T.eq(a, "r", "repeat await " .. i)
    T.eq(b, 2, "repeat await " .. i)
  end
  T.eq(other_ran, false, "another task ran: await of a finished task suspended")
  async.sleep(0)
  T.eq(other_ran, true, "the other task runs at the next suspension")

  local e = {}
  local f = async.spawn(function() error(e) end)
  T.same(T.fails(f.await, f), e, "first await of a failed task")
  other_ran = false
  async.spawn(function() other_ran = true end)
  T.same(T.fails(f.await, f), e, "second await of a failed task")
  T.same(T.fails(f.await, f), e, "third await of a failed task")
  T.eq(other_ran, false, "awaiting a failed task suspended")
  async.sleep(0)
end)

T.case("several tasks awaiting the same task all get the result", function()
  local target = async.spawn(function() async.sleep(0.02); return "shared", 5 end)
  local waiters = {}
  for i = 1, 5 do
    waiters[i] = async.spawn(function() local a, b = target:await(); return a .. b .. i end)
  end
  local direct = target:await()
  T.eq(direct, "shared", "main's await")
  for i = 1, 5 do T.eq(waiters[i]:await(), "shared5" .. i, "waiter " .. i) end

  local e = {}
  local bad = async.spawn(function() async.sleep(0.01); error(e) end)
  local ws = {}
  for i = 1, 3 do
    ws[i] = async.spawn(function()
      local ok, err = pcall(bad.await, bad)
      return ok, err
    end)
  end
  for i = 1, 3 do
    local ok, err = ws[i]:await()
    T.eq(ok, false, "waiter " .. i .. " got an error")
    T.same(err, e, "waiter " .. i .. " got the same error table")
  end
end)

T.case("a task awaiting itself raises", function()
  local t = async.spawn(function()
    local me = async.current()
    local ok, err = pcall(me.await, me)
    return ok, err
  end)
  local ok, err = t:await()
  T.eq(ok, false, "awaiting itself fails")
  T.ok(err ~= nil, "with an error value")
  T.eq(t:status(), "done", "the task went on after the error")
  T.eq(T.fails(function() async.current():await() end) ~= nil, true, "main awaiting itself")
end)

T.case("status through a task's life", function()
  local inside, sleeping
  local t = async.spawn(function()
    inside = async.current():status()
    async.sleep(0.1)
    return "ok"
  end)
  T.eq(t:status(), "pending", "before start")
  T.eq(t:done(), false, "done() before start")
  async.sleep(0.005)
  T.eq(inside, "running", "status of async.current() inside the task")
  sleeping = t:status()
  T.eq(sleeping, "pending", "while suspended")
  T.eq(t:done(), false, "done() while suspended")
  t:await()
  T.eq(t:status(), "done", "after return")
  T.eq(t:done(), true, "done() after return")

  local f = async.spawn(function() error("x") end)
  pcall(f.await, f)
  T.eq(f:status(), "failed", "after an error")
  T.eq(f:done(), true, "done() after an error")

  local c = async.spawn(function() async.sleep(1) end)
  async.sleep(0)
  c:cancel()
  pcall(c.await, c)
  T.eq(c:status(), "cancelled", "after cancel")
  T.eq(c:done(), true, "done() after cancel")
end)

T.case("another task's status seen from a third task while it runs is not 'running'", function()
  local a, seen
  a = async.spawn(function() async.sleep(0.02) end)
  local b = async.spawn(function() seen = a:status() end)
  b:await()
  T.eq(seen, "pending", "a suspended task seen by another")
  a:await()
end)

T.case("result()", function()
  local t = async.spawn(function() async.sleep(0.1); return 1, nil, 3 end)
  T.raises("", t.result, t)                       -- not finished (pending, not started)
  async.sleep(0)
  T.raises("", t.result, t)                       -- not finished (suspended)
  t:await()
  T.values(T.pack(t:result()), T.pack(1, nil, 3), "result() of a done task")
  T.values(T.pack(t:result()), T.pack(1, nil, 3), "result() again")

  local e = {}
  local f = async.spawn(function() error(e) end)
  async.sleep(0)
  T.eq(f:status(), "failed", "status")
  T.same(T.fails(f.result, f), e, "result() raises the error")
  T.same(T.fails(f.result, f), e, "result() raises the error again")

  local c = async.spawn(function() async.sleep(1) end)
  c:cancel()
  async.sleep(0)
  T.eq(c:status(), "cancelled", "status")
  T.ok(async.is_cancelled(T.fails(c.result, c)), "result() of a cancelled task raises Cancelled")
end)

T.case("async.current() inside a task is that task", function()
  local t
  t = async.spawn(function()
    local me = async.current()
    async.sleep(0.005)
    return rawequal(me, t) or me == t, me.id, async.current().id
  end)
  local same, id1, id2 = t:await()
  T.eq(same, true, "current() is the task")
  T.eq(id1, t.id, "id from current()")
  T.eq(id2, t.id, "id from current() after a sleep")
  T.eq(async.current().id, 1, "main again")
end)

T.case("async.tasks() lists live tasks, main included, not finished ones", function()
  local function ids()
    local s = {}
    for _, t in ipairs(async.tasks()) do s[t.id] = t end
    return s
  end
  local a = async.spawn(function() async.sleep(1) end)
  local b = async.spawn(function() end)
  local c = async.spawn(function() async.sleep(1) end)
  local live = ids()
  T.ok(live[1], "main is listed")
  T.ok(live[a.id] and live[b.id] and live[c.id], "pending tasks are listed")
  async.sleep(0.01)
  live = ids()
  T.ok(live[a.id] and live[c.id], "sleeping tasks are listed")
  T.ok(not live[b.id], "a finished task is not listed")
  c:cancel()
  pcall(c.await, c)
  a:cancel()
  pcall(a.await, a)
  live = ids()
  T.ok(not live[a.id] and not live[c.id], "done and cancelled tasks are not listed")
  T.ok(live[1], "main still listed")
  local n = 0
  for _ in pairs(live) do n = n + 1 end
  T.eq(n, 1, "only main is live")
  T.eq(#async.tasks(), 1, "length of the list")
end)

T.case("spawn(non-function) raises a standard argument error", function()
  T.raises("bad argument #1 to 'spawn'", function() async.spawn(5) end)
  T.raises("bad argument #1 to 'spawn'", function() async.spawn() end)
  T.raises("bad argument #1 to 'spawn'", function() async.spawn("print(1)") end)
  T.raises("function expected", function() async.spawn({}) end)
end)

T.case("a callable table or C function can be spawned? (C function)", function()
  local t = async.spawn(select, '#', 1, 2, 3)
  T.eq(t:await(), 3, "a C function as the task body")
end)

T.finish()
