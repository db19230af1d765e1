-- User coroutines inside tasks, and the coroutine library in a task's own code
-- (SPEC §3, the coroutine paragraphs)
local T = require "testlib"

T.case("async.sleep inside a coroutine.wrap generator", function()
  local gen = coroutine.wrap(function(n)
    for i = 1, n do
      async.sleep(0.005)
      coroutine.yield(i, i * 10)
    end
    return "end"
  end)
  local a, b = gen(3)
  T.eq(a, 1, "first value"); T.eq(b, 10, "first value, second part")
  a, b = gen()
  T.eq(a, 2, "second value"); T.eq(b, 20, "second value, second part")
  a, b = gen()
  T.eq(a, 3, "third value")
  T.eq(gen(), "end", "return value")
  T.raises("dead coroutine", gen)
end)

T.case("a sleeping generator in a for-in loop", function()
  local function range(n)
    return coroutine.wrap(function()
      for i = 1, n do async.sleep(0); coroutine.yield(i) end
    end)
  end
  local got = {}
  for i in range(5) do got[#got + 1] = i end
  T.eq(table.concat(got, ","), "1,2,3,4,5", "values")
end)

T.case("async.sleep inside coroutine.create / coroutine.resume", function()
  local co = coroutine.create(function(a, b)
    async.sleep(0.005)
    local c = coroutine.yield(a + b, "yielded")
    async.sleep(0.005)
    local d, e = coroutine.yield(c * 2)
    async.sleep(0)
    return d .. e, nil, "last"
  end)
  T.values(T.pack(coroutine.resume(co, 1, 2)), T.pack(true, 3, "yielded"), "first resume")
  T.eq(coroutine.status(co), "suspended", "status after a yield")
  T.values(T.pack(coroutine.resume(co, 7)), T.pack(true, 14), "second resume")
  T.values(T.pack(coroutine.resume(co, "x", "y")), T.pack(true, "xy", nil, "last"),
    "final resume")
  T.eq(coroutine.status(co), "dead", "status at the end")
end)

T.case("yields with nil holes and no values reach the resumer", function()
  local co = coroutine.create(function()
    async.sleep(0)
    coroutine.yield()
    async.sleep(0)
    coroutine.yield(nil, nil)
    coroutine.yield(nil, 2, nil)
  end)
  T.values(T.pack(coroutine.resume(co)), T.pack(true), "empty yield")
  T.values(T.pack(coroutine.resume(co)), T.pack(true, nil, nil), "two nils")
  T.values(T.pack(coroutine.resume(co)), T.pack(true, nil, 2, nil), "nil holes")
  T.values(T.pack(coroutine.resume(co)), T.pack(true), "end")
end)

T.case("the sleep really waits and other tasks run meanwhile", function()
  local log = {}
  local other = async.spawn(function()
    for i = 1, 3 do log[#log + 1] = "other" .. i; async.sleep(0.005) end
  end)
  local gen = coroutine.wrap(function()
    async.sleep(0.1)
    coroutine.yield("gen")
  end)
  local t0 = async.now()
  local v = gen()
  log[#log + 1] = v
  local dt = async.now() - t0
  T.ok(dt >= 0.09, "the sleep inside the generator lasted " .. dt)
  T.ok(dt < 2, "not too long: " .. dt)
  T.eq(table.concat(log, " "), "other1 other2 other3 gen", "other task ran during the sleep")
  other:await()
end)

T.case("nested generators two levels deep", function()
  local inner = coroutine.wrap(function()
    for i = 1, 3 do
      async.sleep(0.002)
      coroutine.yield("i" .. i)
    end
  end)
  local outer = coroutine.wrap(function()
    for _ = 1, 3 do
      local v = inner()
      async.sleep(0)
      coroutine.yield("o(" .. v .. ")")
    end
  end)
  local got = {}
  for _ = 1, 3 do got[#got + 1] = outer() end
  T.eq(table.concat(got, " "), "o(i1) o(i2) o(i3)", "values through two levels")
end)

T.case("three levels deep with create/resume and values in both directions", function()
  local c3 = coroutine.create(function(x)
    while true do
      async.sleep(0)
      x = coroutine.yield(x + 1)
    end
  end)
  local c2 = coroutine.create(function(x)
    while true do
      local _, y = coroutine.resume(c3, x)
      async.sleep(0)
      x = coroutine.yield(y * 2)
    end
  end)
  local c1 = coroutine.wrap(function(x)
    while true do
      local _, y = coroutine.resume(c2, x)
      x = coroutine.yield(y - 1)
    end
  end)
  T.eq(c1(1), 3, "(1+1)*2-1")
  T.eq(c1(10), 21, "(10+1)*2-1")
end)

T.case("generators in two tasks interleave", function()
  local log = {}
  local function worker(name)
    return async.spawn(function()
      local g = coroutine.wrap(function()
        for i = 1, 3 do async.sleep(0); coroutine.yield(name .. i) end
      end)
      for _ = 1, 3 do
        local v = g()
        log[#log + 1] = v
      end
    end)
  end
  local a, b = worker("A"), worker("B")
  a:await(); b:await()
  T.eq(table.concat(log, " "), "A1 B1 A2 B2 A3 B3", "interleaving")
end)

T.case("await inside a generator", function()
  local t = async.spawn(function() async.sleep(0.01); return "from task", 2 end)
  local g = coroutine.wrap(function()
    local a, b = t:await()
    coroutine.yield(a, b)
  end)
  local a, b = g()
  T.eq(a, "from task", "awaited value through the generator")
  T.eq(b, 2, "second value")
end)

T.case("an error inside a wrap generator propagates with position info", function()
  local function make(sleep_first)
    return coroutine.wrap(function()
      if sleep_first then async.sleep(0.001) end
      error("gen-error")
    end)
  end
  local plain = T.fails(make(false))
  local slept = T.fails(make(true))
  T.contains(plain, "coroutines.lua:", "position info")
  T.contains(plain, "gen-error", "message")
  T.eq(slept, plain, "same message when the generator slept first")

  -- a runtime error, called from a Lua function (wrap adds the caller's position as in lua)
  local function call(sleep_first)
    local g = coroutine.wrap(function()
      if sleep_first then async.sleep(0) end
      local x = nil
      return x.field
    end)
    return g()
  end
  local e1, e2 = T.fails(call, false), T.fails(call, true)
  T.contains(e1, "attempt to index a nil value", "runtime error message")
  T.eq(e2, e1, "runtime error after a sleep matches plain Lua")

  -- error tables go through unchanged
  local etab = {}
  local g = coroutine.wrap(function() async.sleep(0); error(etab) end)
  T.same(T.fails(g), etab, "error table identity")

  -- coroutine.resume returns false + the error
  local co = coroutine.create(function() async.sleep(0); error("resume-err") end)
  local ok, msg = coroutine.resume(co)
  T.eq(ok, false, "resume reports the failure")
  T.contains(msg, "resume-err", "message")
  T.contains(msg, "coroutines.lua:", "position")
  T.eq(coroutine.status(co), "dead", "status")
end)

T.case("an async error inside a generator (bad argument) propagates", function()
  local g = coroutine.wrap(function() async.sleep("x") end)
  T.raises("bad argument #1 to 'sleep'", g)
end)

T.case("cancel while sleeping inside a generator raises Cancelled at that sleep", function()
  local where = {}
  local t = async.spawn(function()
    local g = coroutine.wrap(function()
      local ok, err = pcall(async.sleep, 1)
      where.inside_ok = ok
      where.inside_cancelled = async.is_cancelled(err)
      error(err, 0)
    end)
    local ok, err = pcall(g)
    where.outer_cancelled = (not ok) and async.is_cancelled(err)
    error(err, 0)
  end)
  async.sleep(0.01)
  local t0 = async.now()
  t:cancel()
  local err = T.fails(t.await, t)
  T.ok(async.now() - t0 < 0.5, "woke at once")
  T.eq(where.inside_ok, false, "the sleep inside the generator raised")
  T.eq(where.inside_cancelled, true, "with Cancelled, inside the generator")
  T.eq(where.outer_cancelled, true, "and it propagated out of the generator")
  T.ok(async.is_cancelled(err), "the task ends cancelled")
  T.eq(t:status(), "cancelled", "status")
end)

T.case("cancel a task sleeping in a create/resume coroutine", function()
  local res = {}
  local t = async.spawn(function()
    local co = coroutine.create(function() async.sleep(1); return "unreachable" end)
    local ok, err = coroutine.resume(co)
    res.ok, res.cancelled, res.status = ok, async.is_cancelled(err), coroutine.status(co)
    async.sleep(0)          -- level-triggered: raises again here
    res.after = true
  end)
  async.sleep(0.01)
  t:cancel()
  T.ok(async.is_cancelled(T.fails(t.await, t)), "task cancelled")
  T.eq(res.ok, false, "resume returned false")
  T.eq(res.cancelled, true, "with Cancelled")
  T.eq(res.status, "dead", "the coroutine died")
  T.eq(res.after, nil, "the next sleep raised again")
end)

T.case("the coroutine library in a task's own code behaves as on the main thread", function()
  local function probe()
    local r = {}
    r.th, r.ismain = coroutine.running()
    r.yieldable = coroutine.isyieldable()
    r.ok, r.err = pcall(coroutine.yield, 1)
    r.status = coroutine.status(r.th)
    return r
  end
  local function check(r, where)
    T.eq(type(r.th), "thread", where .. ": running() returns a thread")
    T.eq(r.ismain, true, where .. ": running() second result")
    T.eq(r.yieldable, false, where .. ": isyieldable()")
    T.eq(r.ok, false, where .. ": yield fails")
    T.contains(r.err, "attempt to yield from outside a coroutine", where .. ": yield message")
    T.eq(r.status, "running", where .. ": status of its own thread")
  end
  check(probe(), "main")
  local t = async.spawn(function() return probe() end)
  check(t:await(), "task")
  local t2 = async.spawn(function() async.sleep(0.002); return probe() end)
  check(t2:await(), "task after a sleep")
  -- the task's thread is the same before and after a suspension
  local t3 = async.spawn(function()
    local a = coroutine.running()
    async.sleep(0)
    local b = coroutine.running()
    return rawequal(a, b)
  end)
  T.eq(t3:await(), true, "same thread across a sleep")
  -- coroutine.yield(1) called directly (not through pcall(coroutine.yield, ...))
  local ok, err = pcall(function() coroutine.yield(1) end)
  T.eq(ok, false, "direct coroutine.yield")
  T.contains(err, "attempt to yield from outside a coroutine", "message")
  -- inside a user coroutine things are as usual
  local co = coroutine.create(function()
    local th, ismain = coroutine.running()
    coroutine.yield(type(th), ismain, coroutine.isyieldable())
  end)
  T.values(T.pack(coroutine.resume(co)), T.pack(true, "thread", false, true),
    "inside a user coroutine")
end)

T.case("another task's thread cannot be resumed or closed", function()
  local th
  local t = async.spawn(function()
    th = coroutine.running()
    async.sleep(0.2)
    return "undisturbed"
  end)
  async.sleep(0.005)
  T.eq(type(th), "thread", "got the thread")
  local ok, msg = coroutine.resume(th, "intruder")
  T.eq(ok, false, "resume fails")
  T.eq(type(msg), "string", "with a message")
  local ok2, msg2 = coroutine.resume(th)
  T.eq(ok2, false, "resume fails again")
  T.ok(msg2 ~= nil, "message")
  T.raises("", coroutine.close, th)
  T.eq(t:status(), "pending", "the task still sleeps")
  local t0 = async.now()
  T.eq(t:await(), "undisturbed", "the task finished normally")
  T.ok(async.now() - t0 > 0.05, "its sleep was not cut short")
  -- the main task's thread, from another task
  local mainth = coroutine.running()
  local probe = async.spawn(function()
    local rok = coroutine.resume(mainth)
    local cok = pcall(coroutine.close, mainth)
    return rok, cok
  end)
  local rok, cok = probe:await()
  T.eq(rok, false, "resuming main's thread fails")
  T.eq(cok, false, "closing main's thread fails")
  -- a finished task's thread
  local tdone
  local d = async.spawn(function() tdone = coroutine.running() end)
  d:await()
  T.eq(coroutine.resume(tdone), false, "resuming a finished task's thread fails")
end)

T.case("a generator sleeping in one task cannot be resumed from another", function()
  do
    local co
    local a = async.spawn(function()
      co = coroutine.create(function()
        async.sleep(0.2)
        coroutine.yield("y1")
        return "ret"
      end)
      return coroutine.resume(co)
    end)
    async.sleep(0.01)
    local st = coroutine.status(co)
    local rok = coroutine.resume(co)
    local cok = pcall(coroutine.close, co)
    local aok, av = a:await()
    T.eq(rok, false, "resuming it from another task fails")
    T.eq(cok, false, "closing it from another task fails")
    T.eq(aok, true, "the owning task's resume succeeds")
    T.eq(av, "y1", "and gets the generator's value")
    T.eq(st, "normal", "status seen by another task")
  end
end)

T.case("a closed generator after a normal yield", function()
  local closed = false
  local co = coroutine.create(function()
    local _ <close> = setmetatable({}, {__close = function() closed = true end})
    async.sleep(0)
    coroutine.yield(1)
  end)
  T.eq(select(2, coroutine.resume(co)), 1, "yielded")
  T.eq(coroutine.close(co), true, "close")
  T.eq(closed, true, "to-be-closed variable closed")
end)

T.case("a __close handler that sleeps in a task", function()
  local log = {}
  local t = async.spawn(function()
    do
      local _ <close> = setmetatable({}, {__close = function()
        async.sleep(0.005); log[#log + 1] = "closed"
      end})
      log[#log + 1] = "body"
    end
    return "ok"
  end)
  T.eq(t:await(), "ok", "task result")
  T.eq(table.concat(log, ","), "body,closed", "order")
end)

T.finish()
