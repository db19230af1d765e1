-- async.timeout, async.wait_for, async.Timeout, async.is_timeout (SPEC §3 "Time")
local T = require "testlib"

local kind = T.kind

-- timeout ------------------------------------------------------------------------------

T.case("timeout returns fn's results (all of them, trailing nils counted)", function()
  local r = T.pack(async.timeout(1, function(a, b)
    async.sleep(0.01)
    return a, b, nil
  end, "x", 2))
  T.values(r, { n = 3, "x", 2, nil }, "results")
  T.values(T.pack(async.timeout(1, function() end)), { n = 0 }, "no results")
  -- fn may be any callable function, including a C one
  T.values(T.pack(async.timeout(1, select, "#", 1, 2, 3)), { n = 1, 3 }, "a C function")
end)

T.case("at expiry the suspension raises async.Timeout and so does the call", function()
  local caught, after
  local t0 = async.now()
  local err = T.fails(async.timeout, 0.05, function()
    local ok, e = pcall(async.sleep, 10)
    caught = e
    after = ok
    error(e, 0)
  end)
  local dt = async.now() - t0
  T.ok(dt >= 0.045, "not before the deadline (" .. dt .. ")")
  T.ok(dt < 0.8, "well before the 10 s sleep ended (" .. dt .. ")")
  T.eq(after, false, "the sleep raised")
  T.same(caught, async.Timeout, "the sleep raised the async.Timeout value")
  T.same(err, async.Timeout, "the call raised the async.Timeout value")
  T.ok(err == async.Timeout, "== async.Timeout")
  T.eq(async.is_timeout(err), true, "is_timeout")
  T.eq(async.is_cancelled(err), false, "a Timeout is not a cancellation")
  T.eq(tostring(err), "timeout", "tostring")
end)

T.case("a Timeout passing straight through fn is raised by the call", function()
  local t0 = async.now()
  local err = T.fails(async.timeout, 0.03, async.sleep, 10)
  T.ok(async.now() - t0 < 0.8, "raised at the deadline")
  T.ok(async.is_timeout(err), "is_timeout: " .. tostring(err))
end)

T.case("is_timeout is false for other values", function()
  T.eq(async.is_timeout("timeout"), false, "a string")
  T.eq(async.is_timeout(nil), false, "nil")
  T.eq(async.is_timeout({}), false, "a table")
  T.eq(async.is_timeout(async.Cancelled), false, "async.Cancelled")
  T.eq(async.is_timeout(0), false, "a number")
  T.eq(async.is_timeout(async.Timeout), true, "async.Timeout itself")
end)

T.case("every kind of suspension inside the scope raises the Timeout", function()
  local log = {}
  local other = async.spawn(function() async.sleep(0.1); return "other" end)
  local ev = async.event()
  local q = async.queue()
  local ok = pcall(async.timeout, 0.02, function()
    local _, e1 = pcall(other.await, other)
    log[#log + 1] = "await:" .. kind(e1)
    local _, e2 = pcall(ev.wait, ev)
    log[#log + 1] = "event:" .. kind(e2)
    local _, e3 = pcall(q.get, q)
    log[#log + 1] = "queue:" .. kind(e3)
    local _, e4 = pcall(async.sleep, 0)
    log[#log + 1] = "sleep0:" .. kind(e4)
  end)
  T.eq(ok, true, "fn swallowed every Timeout and returned")
  T.eq(table.concat(log, ","), "await:timeout,event:timeout,queue:timeout,sleep0:timeout", "log")
  T.eq(other:status(), "pending", "timing out an await does not cancel the awaited task")
  T.eq(other:await(), "other", "the awaited task goes on")
end)

T.case("level-triggered: a swallowed Timeout comes back at the next suspension", function()
  local log = {}
  local t0 = async.now()
  local err = T.fails(async.timeout, 0.02, function()
    local ok1, e1 = pcall(async.sleep, 10)
    log[#log + 1] = ok1 and "slept" or kind(e1)
    local ok2, e2 = pcall(async.sleep, 10)
    log[#log + 1] = ok2 and "slept" or kind(e2)
    async.sleep(10)  -- raises again, ends fn
    log[#log + 1] = "unreachable"
  end)
  T.ok(async.now() - t0 < 0.8, "quick")
  T.ok(async.is_timeout(err), "the call raised Timeout")
  T.eq(table.concat(log, ","), "timeout,timeout", "every suspension raised")
end)

T.case("fn that catches the Timeout and returns normally: timeout returns its results", function()
  local r = T.pack(async.timeout(0.02, function()
    local ok, e = pcall(async.sleep, 10)
    return "caught", async.is_timeout(e), ok
  end))
  T.values(r, { n = 3, "caught", true, false }, "fn's results")
  -- and the task is not affected afterwards: outside the scope sleeps work again
  async.sleep(0.01)
end)

T.case("no suspension after expiry: fn's results are returned", function()
  local r = T.pack(async.timeout(0.01, function()
    local t0 = async.now()
    repeat until async.now() - t0 >= 0.03   -- busy, never suspends: the deadline passes
    return "busy done"
  end))
  T.values(r, { n = 1, "busy done" }, "results")
  async.sleep(0)  -- no stale Timeout outside the scope
end)

T.case("an expired scope does not affect the task after the call", function()
  pcall(async.timeout, 0.01, async.sleep, 1)
  local t0 = async.now()
  async.sleep(0.03)                   -- must not raise
  T.ok(async.now() - t0 >= 0.025, "the later sleep ran fully")
  -- a scope left early whose deadline passes later: nothing happens
  async.timeout(0.02, function() end)
  async.timeout(0.02, async.sleep, 0)
  async.sleep(0.05)
  T.ok(true)
end)

T.case("nested: the inner expiring raises in the inner scope only", function()
  local log = {}
  local t0 = async.now()
  local r = async.timeout(2, function()
    local ok, e = pcall(async.timeout, 0.02, async.sleep, 10)
    log[#log + 1] = (ok and "ok" or kind(e))
    async.sleep(0.02)                       -- the outer is untouched
    log[#log + 1] = "outer slept"
    return "outer result"
  end)
  T.ok(async.now() - t0 < 0.8, "quick")
  T.eq(r, "outer result", "outer timeout returned fn's result")
  T.eq(table.concat(log, ","), "timeout,outer slept", "log")
end)

T.case("nested: the outer expiring while inside the inner raises through the inner", function()
  local log = {}
  local t0 = async.now()
  local err = T.fails(async.timeout, 0.03, function()
    local ok, e = pcall(async.timeout, 10, function()
      local ok2, e2 = pcall(async.sleep, 10)
      log[#log + 1] = "inner sleep:" .. (ok2 and "ok" or kind(e2))
      async.sleep(0)                        -- still expired (the outer): raises again
      log[#log + 1] = "unreachable inner"
    end)
    log[#log + 1] = "inner call:" .. (ok and "ok" or kind(e))
    async.sleep(0)                          -- the outer is still expired
    log[#log + 1] = "unreachable outer"
  end)
  T.ok(async.now() - t0 < 0.8, "at the outer deadline, not the inner one")
  T.ok(async.is_timeout(err), "outer call raised Timeout")
  T.eq(table.concat(log, ","), "inner sleep:timeout,inner call:timeout", "log")
end)

T.case("nested: an inner scope that swallows the outer's Timeout returns, the outer raises", function()
  local log = {}
  local err = T.fails(async.timeout, 0.02, function()
    local r = async.timeout(10, function()
      local ok = pcall(async.sleep, 10)
      return ok and "slept" or "inner swallowed"
    end)
    log[#log + 1] = r
    async.sleep(0)
    log[#log + 1] = "unreachable"
  end)
  T.ok(async.is_timeout(err), "Timeout")
  T.eq(table.concat(log, ","), "inner swallowed", "log")
end)

T.case("an outer task cancel inside a timeout stays a cancellation", function()
  local seen
  local t = async.spawn(function()
    return async.timeout(10, function()
      local ok, e = pcall(async.sleep, 10)
      seen = e
      error(e, 0)
    end)
  end)
  async.sleep(0.01)
  t:cancel()
  local err = T.fails(t.await, t)
  T.ok(async.is_cancelled(seen), "the sleep raised a cancellation: " .. kind(seen))
  T.eq(async.is_timeout(seen), false, "not a Timeout")
  T.ok(async.is_cancelled(err), "the task ended cancelled: " .. kind(err))
  T.eq(async.is_timeout(err), false, "not a Timeout (await)")
  T.eq(t:status(), "cancelled", "status")
end)

T.case("a cancel wins even if the timeout also expired (both pending at one suspension)", function()
  local seen
  local t = async.spawn(function()
    return async.timeout(0.02, function()
      -- both the deadline (0.02) and the cancel (0.03) arrive while shielded
      async.shield(async.sleep, 0.06)
      local ok, e = pcall(async.sleep, 10)
      seen = e
      error(e, 0)
    end)
  end)
  async.sleep(0.03)
  t:cancel()
  local err = T.fails(t.await, t)
  T.ok(async.is_cancelled(seen), "the suspension raised the cancellation: " .. kind(seen))
  T.ok(async.is_cancelled(err), "the task ended cancelled: " .. kind(err))
  T.eq(async.is_timeout(err), false, "not a Timeout")
  T.eq(t:status(), "cancelled", "status")

  -- the timeout expired first and was swallowed, then the task is cancelled
  local seen2 = {}
  local t2 = async.spawn(function()
    return async.timeout(0.01, function()
      local _, e1 = pcall(async.sleep, 10)      -- Timeout at 0.01
      seen2[#seen2 + 1] = kind(e1)
      local _, e2 = pcall(async.shield, async.sleep, 0.05) -- cancelled meanwhile
      seen2[#seen2 + 1] = kind(e2)
      local _, e3 = pcall(async.sleep, 10)
      seen2[#seen2 + 1] = kind(e3)
      async.sleep(10)
    end)
  end)
  async.sleep(0.03)
  t2:cancel()
  local err2 = T.fails(t2.await, t2)
  T.eq(table.concat(seen2, ","), "timeout,nil,cancelled", "what each suspension raised")
  T.ok(async.is_cancelled(err2), "ended cancelled: " .. kind(err2))
  T.eq(t2:status(), "cancelled", "status")
end)

T.case("timeout(0, fn): fn starts, its first suspension raises", function()
  local log = {}
  local err = T.fails(async.timeout, 0, function()
    log[#log + 1] = "started"
    async.sleep(0)
    log[#log + 1] = "unreachable"
  end)
  T.ok(async.is_timeout(err), "Timeout: " .. kind(err))
  T.eq(table.concat(log, ","), "started", "log")
  -- without a suspension fn's results come back
  T.eq(async.timeout(0, function() return "no suspension" end), "no suspension", "results")
end)

T.case("a negative timeout behaves as 0", function()
  local log = {}
  local err = T.fails(async.timeout, -5, function()
    log[#log + 1] = "started"
    async.sleep(0.5)
    log[#log + 1] = "unreachable"
  end)
  T.ok(async.is_timeout(err), "Timeout: " .. kind(err))
  T.eq(table.concat(log, ","), "started", "log")
  T.ok(async.is_timeout(T.fails(async.timeout, -math.huge, async.sleep, 0)), "-inf")
end)

T.case("timeout(math.huge, fn) never expires", function()
  local t0 = async.now()
  local r = async.timeout(math.huge, function()
    async.sleep(0.03)
    async.sleep(0)
    return "done"
  end)
  T.eq(r, "done", "result")
  T.ok(async.now() - t0 >= 0.025, "slept")
end)

T.case("a timeout in another task does not affect this one", function()
  local other = async.spawn(function() return pcall(async.timeout, 0.01, async.sleep, 10) end)
  local t0 = async.now()
  async.sleep(0.04)
  T.ok(async.now() - t0 >= 0.035, "main slept fully")
  local ok, e = other:await()
  T.eq(ok, false, "other timed out")
  T.ok(async.is_timeout(e), "with Timeout")
end)

T.case("errors from fn pass through timeout unchanged", function()
  local e = {}
  T.same(T.fails(async.timeout, 1, function() async.sleep(0); error(e) end), e, "error value")
  T.raises("plain", function() async.timeout(1, error, "plain") end)
end)

T.case("bad arguments to timeout", function()
  T.raises("bad argument #1 to 'timeout'", function() async.timeout(nil, print) end)
  T.raises("bad argument #1 to 'timeout'", function() async.timeout({}, print) end)
  T.raises("bad argument #1 to 'timeout'", function() async.timeout(0 / 0, print) end)
  T.raises("bad argument #2 to 'timeout'", function() async.timeout(1) end)
  T.raises("bad argument #2 to 'timeout'", function() async.timeout(1, 42) end)
end)

T.case("a generator cannot yield from inside a timeout's fn; the task is unaffected", function()
  -- a scope belongs to the task while its fn runs: yielding a value out of it would leave
  -- it suspended on the task, so coroutine.yield raises there (the generator dies)
  local t = async.spawn(function()
    local gen = coroutine.wrap(function()
      async.timeout(0.01, function() coroutine.yield("inside") end)
      return "gen done"
    end)
    local ok, err = pcall(gen)
    local slept, e = pcall(async.sleep, 0.03) -- no Timeout leaks into the task
    return ok, tostring(err), slept, kind(e)
  end)
  local ok, err, slept, e = t:await()
  T.eq(ok, false, "the yield inside timeout failed")
  T.contains(err, "attempt to yield inside async.timeout", "message")
  T.eq(slept, true, "the task's own sleep completed")
  T.eq(e, "nil", "and raised nothing")
  -- yielding after the timeout returned is fine
  local gen = coroutine.wrap(function()
    async.timeout(1, async.sleep, 0.001)
    coroutine.yield("after")
    return "end"
  end)
  T.eq(gen(), "after", "yield after the scope")
  T.eq(gen(), "end", "generator finished")
end)

-- wait_for -----------------------------------------------------------------------------

T.case("wait_for returns the task's results when it finishes in time", function()
  local t = async.spawn(function() async.sleep(0.02); return "a", nil, 3 end)
  T.values(T.pack(async.wait_for(t, 1)), { n = 3, "a", nil, 3 }, "results")
  T.eq(t:status(), "done", "status")
  -- a task finished already
  T.eq(async.wait_for(t, 0), "a", "a finished task, even with 0 s")
end)

T.case("wait_for at expiry cancels the task, waits for its cleanup, raises Timeout", function()
  local log = {}
  local t = async.spawn(function()
    local ok, e = pcall(async.sleep, 10)
    log[#log + 1] = "woke:" .. kind(e)
    async.shield(async.sleep, 0.03)         -- cleanup that awaits
    log[#log + 1] = "cleaned"
    error(e, 0)
  end)
  local t0 = async.now()
  local err = T.fails(async.wait_for, t, 0.03)
  local dt = async.now() - t0
  log[#log + 1] = "wait_for raised"
  T.ok(async.is_timeout(err), "wait_for raised Timeout: " .. kind(err))
  T.ok(dt >= 0.05, "it waited for the cleanup (" .. dt .. ")")
  T.ok(dt < 0.8, "quick (" .. dt .. ")")
  T.eq(table.concat(log, ","), "woke:cancelled,cleaned,wait_for raised", "order")
  T.eq(t:status(), "cancelled", "the task was cancelled")
end)

T.case("wait_for(task, 0) on a pending task times out and cancels it", function()
  local t = async.spawn(function() async.sleep(1) end)
  local err = T.fails(async.wait_for, t, 0)
  T.ok(async.is_timeout(err), "Timeout: " .. kind(err))
  T.eq(t:status(), "cancelled", "status")
end)

T.case("wait_for: a task that fails raises its error", function()
  local e = {}
  local t = async.spawn(function() async.sleep(0.01); error(e) end)
  T.same(T.fails(async.wait_for, t, 1), e, "the task's error")
  T.eq(t:status(), "failed", "status")
  local t2 = async.spawn(function() error("boom") end)
  T.raises("boom", async.wait_for, t2, 1)
end)

T.case("wait_for: a task that is cancelled by someone else raises a cancelled value", function()
  local t = async.spawn(function() async.sleep(1) end)
  async.spawn(function() async.sleep(0.01); t:cancel() end)
  local err = T.fails(async.wait_for, t, 1)
  T.ok(async.is_cancelled(err), "cancelled: " .. kind(err))
end)

T.case("cancelling the caller of wait_for cancels the task too", function()
  local cleaned = false
  local t = async.spawn(function()
    local ok, e = pcall(async.sleep, 10)
    async.shield(async.sleep, 0.02)
    cleaned = true
    error(e, 0)
  end)
  local caller = async.spawn(function() return async.wait_for(t, 10) end)
  async.sleep(0.01)
  local t0 = async.now()
  caller:cancel()
  local err = T.fails(caller.await, caller)
  T.ok(async.now() - t0 < 0.8, "quick")
  T.ok(async.is_cancelled(err), "the caller ended cancelled: " .. kind(err))
  T.eq(async.is_timeout(err), false, "not a Timeout")
  T.eq(t:status(), "cancelled", "the task was cancelled too")
  T.eq(cleaned, true, "and the caller waited for its cleanup")
end)

T.case("wait_for inside a timeout: the outer deadline cancels the task", function()
  local t = async.spawn(function() async.sleep(10) end)
  local t0 = async.now()
  local err = T.fails(async.timeout, 0.02, async.wait_for, t, 10)
  T.ok(async.now() - t0 < 0.8, "quick")
  T.ok(async.is_timeout(err), "Timeout: " .. kind(err))
  T.eq(t:status(), "cancelled", "the task was cancelled")
end)

T.case("bad arguments to wait_for", function()
  local t = async.spawn(function() end)
  T.raises("bad argument #1 to 'wait_for'", function() async.wait_for(nil, 1) end)
  T.raises("bad argument #1 to 'wait_for'", function() async.wait_for({}, 1) end)
  T.raises("bad argument #2 to 'wait_for'", function() async.wait_for(t, nil) end)
  t:await()
end)

T.finish()
