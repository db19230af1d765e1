-- async.scope (the nursery) and async.shield (SPEC §3 "Combinators and structured
-- concurrency"; the stderr side of "later errors count as retrieved" is in
-- tests/faketime.bats)
local T = require "testlib"

local kind = T.kind

-- A child body that sleeps 10 s; when cancelled it records it in log[name] after an
-- awaiting cleanup, then ends cancelled.
local function sleeper(log, name)
  return function()
    local ok, e = pcall(async.sleep, 10)
    async.shield(async.sleep, 0.01)
    log[name] = kind(e)
    error(e, 0)
  end
end

-- scope --------------------------------------------------------------------------------

T.case("scope returns the body's results once the body and every child finished", function()
  local done = {}
  local t0 = async.now()
  local r = T.pack(async.scope(function(s)
    s:spawn(function() async.sleep(0.05); done[#done + 1] = "slow" end)
    s:spawn(function(x) async.sleep(0.01); done[#done + 1] = x end, "fast")
    return "body", nil, 3
  end))
  local dt = async.now() - t0
  T.values(r, { n = 3, "body", nil, 3 }, "the body's results")
  T.ok(dt >= 0.045, "waited for the slow child (" .. dt .. ")")
  T.ok(dt < 0.8, "not much longer (" .. dt .. ")")
  T.eq(table.concat(done, ","), "fast,slow", "both children ran to the end")
end)

T.case("s:spawn returns the task and passes the arguments", function()
  local child
  async.scope(function(s)
    child = s:spawn(function(a, b) return a + b end, 2, 3)
    T.eq(type(child.id), "number", "a task")
  end)
  T.eq(child:status(), "done", "finished when the scope returned")
  T.eq(child:result(), 5, "its result")
end)

T.case("a scope without children returns at once with the body's results", function()
  T.values(T.pack(async.scope(function() return 1, 2 end)), { n = 2, 1, 2 }, "results")
  T.values(T.pack(async.scope(function() end)), { n = 0 }, "no results")
end)

T.case("the body and children run concurrently", function()
  local log = {}
  async.scope(function(s)
    s:spawn(function() log[#log + 1] = "child start"; async.sleep(0.02); log[#log + 1] = "child end" end)
    async.sleep(0.01)
    log[#log + 1] = "body"
  end)
  T.eq(table.concat(log, ","), "child start,body,child end", "interleaving")
end)

T.case("a failing child: the scope raises its error at once, cancels siblings and body", function()
  local log = {}
  local e = {}
  local body_after = false
  local t0 = async.now()
  local err = T.fails(async.scope, function(s)
    s:spawn(sleeper(log, "sib1"))
    s:spawn(function() async.sleep(0.01); error(e) end)
    s:spawn(sleeper(log, "sib2"))
    async.sleep(10)
    body_after = true
  end)
  local dt = async.now() - t0
  T.ok(dt < 0.8, "well under a second (" .. dt .. ")")
  T.same(err, e, "the child's error")
  T.eq(body_after, false, "the body was cancelled at its sleep")
  T.eq(log.sib1, "cancelled", "sibling 1 cancelled, cleanup done before the scope raised")
  T.eq(log.sib2, "cancelled", "sibling 2 as well")
  -- the task running the scope is not left cancelled
  async.sleep(0)
end)

T.case("a failing child while the body is busy in a pcall: the body is still cancelled", function()
  local log = {}
  local err = T.fails(async.scope, function(s)
    s:spawn(function() async.sleep(0.01); error("child boom") end)
    local ok, e = pcall(async.sleep, 10)
    log[#log + 1] = "body woke:" .. (ok and "ok" or kind(e))
    local ok2 = pcall(async.sleep, 0)
    log[#log + 1] = "again:" .. (ok2 and "ok" or "raised")
  end)
  T.contains(tostring(err), "child boom", "the child's error")
  T.eq(log[1], "body woke:cancelled", "the body's sleep raised a cancellation")
  T.eq(log[2], "again:raised", "level-triggered in the body")
end)

T.case("the first failure wins; a later failing child does not replace it", function()
  local err = T.fails(async.scope, function(s)
    s:spawn(function() async.sleep(0.01); error("first") end)
    s:spawn(function()
      pcall(async.sleep, 10)
      error("second, during cleanup")
    end)
  end)
  T.contains(tostring(err), "first", "first error raised")
end)

T.case("s:cancel() cancels body and children; the scope returns nothing", function()
  local log = {}
  local body_after = false
  local t0 = async.now()
  local r = T.pack(async.scope(function(s)
    s:spawn(sleeper(log, "c1"))
    s:spawn(sleeper(log, "c2"))
    async.sleep(0.01)
    s:cancel()
    async.sleep(10)
    body_after = true
    return "unreachable"
  end))
  T.ok(async.now() - t0 < 0.8, "quick")
  T.eq(r.n, 0, "select('#', ...) == 0")
  T.eq(body_after, false, "the body was cancelled")
  T.eq(log.c1, "cancelled", "child 1 cancelled and waited for")
  T.eq(log.c2, "cancelled", "child 2 cancelled and waited for")
  -- the scope absorbed its own cancellation: the caller goes on
  async.sleep(0.01)
end)

T.case("s:cancel() from a child", function()
  local log = {}
  local t0 = async.now()
  local n = select("#", async.scope(function(s)
    s:spawn(sleeper(log, "other"))
    s:spawn(function() async.sleep(0.01); s:cancel() end)
    async.sleep(10)
    return 1
  end))
  T.ok(async.now() - t0 < 0.8, "quick")
  T.eq(n, 0, "returns nothing")
  T.eq(log.other, "cancelled", "the other child was cancelled")
end)

T.case("s:cancel() when the body returns at once still returns nothing", function()
  local child
  local n = select("#", async.scope(function(s)
    child = s:spawn(function() async.sleep(10) end)
    s:cancel()
    return "x"
  end))
  T.eq(n, 0, "returns nothing")
  T.eq(child:status(), "cancelled", "the child was cancelled")
end)

T.case("an error in the body cancels the children and is raised", function()
  local log = {}
  local e = {}
  local t0 = async.now()
  local err = T.fails(async.scope, function(s)
    s:spawn(sleeper(log, "c1"))
    s:spawn(sleeper(log, "c2"))
    async.sleep(0.01)
    error(e)
  end)
  T.ok(async.now() - t0 < 0.8, "quick")
  T.same(err, e, "the body's error")
  T.eq(log.c1, "cancelled", "child 1 cancelled and waited for")
  T.eq(log.c2, "cancelled", "child 2 cancelled and waited for")
end)

T.case("an error in the body before it ever suspends", function()
  local child
  local t0 = async.now()
  local err = T.fails(async.scope, function(s)
    child = s:spawn(function() async.sleep(10) end)
    error("at once")
  end)
  T.ok(async.now() - t0 < 0.8, "quick")
  T.contains(tostring(err), "at once", "raised")
  T.eq(child:status(), "cancelled", "the child was cancelled (before its first step)")
end)

T.case("cancelling the task running the scope cancels the children and waits for them", function()
  local log = {}
  local children = {}
  local runner = async.spawn(function()
    return async.scope(function(s)
      children[1] = s:spawn(sleeper(log, "c1"))
      children[2] = s:spawn(sleeper(log, "c2"))
      async.sleep(10)
    end)
  end)
  async.sleep(0.01)
  local t0 = async.now()
  runner:cancel()
  local err = T.fails(runner.await, runner)
  T.ok(async.now() - t0 < 0.8, "quick")
  T.ok(async.is_cancelled(err), "the runner ended cancelled: " .. kind(err))
  T.eq(runner:status(), "cancelled", "runner status")
  T.eq(log.c1, "cancelled", "child 1's cleanup ran before the runner finished")
  T.eq(log.c2, "cancelled", "child 2's cleanup ran before the runner finished")
  T.eq(children[1]:status(), "cancelled", "child 1 status")
  T.eq(children[2]:status(), "cancelled", "child 2 status")
end)

T.case("a timeout around a scope cancels the children", function()
  local log = {}
  local err = T.fails(async.timeout, 0.02, async.scope, function(s)
    s:spawn(sleeper(log, "c"))
    async.sleep(10)
  end)
  T.ok(async.is_timeout(err), "Timeout: " .. kind(err))
  T.eq(log.c, "cancelled", "the child was cancelled and waited for")
end)

T.case("s:spawn after the scope finished raises", function()
  local saved
  async.scope(function(s) saved = s end)
  local ran = false
  T.fails(function() saved:spawn(function() ran = true end) end)
  async.sleep(0.01)
  T.eq(ran, false, "nothing was started")
  -- also after a scope that failed
  pcall(async.scope, function(s) saved = s; error("x") end)
  T.fails(function() saved:spawn(function() ran = true end) end)
  async.sleep(0.01)
  T.eq(ran, false, "nothing was started")
end)

T.case("a child may spawn siblings into the scope", function()
  -- a child spawned by a child before it finished is a child of the scope too
  local log = {}
  local late
  async.scope(function(s)
    s:spawn(function()
      async.sleep(0.01)
      late = s:spawn(function() async.sleep(0.02); log[#log + 1] = "grandchild" end)
    end)
  end)
  T.eq(table.concat(log, ","), "grandchild", "the late child was awaited")
  if late and not late:done() then pcall(late.await, late) end
  -- spawned from the body after the other children finished: always awaited
  async.scope(function(s)
    s:spawn(function() end)
    async.sleep(0.01)
    s:spawn(function() async.sleep(0.02); log[#log + 1] = "from body" end)
  end)
  T.eq(log[#log], "from body", "a child spawned later by the body was awaited")
end)

T.case("nested scopes: an inner failure propagates and cancels the outer", function()
  local log = {}
  local t0 = async.now()
  local err = T.fails(async.scope, function(outer)
    outer:spawn(sleeper(log, "outer child"))
    outer:spawn(function()
      async.scope(function(inner)
        inner:spawn(sleeper(log, "inner child"))
        inner:spawn(function() async.sleep(0.01); error("deep") end)
      end)
    end)
  end)
  T.ok(async.now() - t0 < 0.8, "quick")
  T.contains(tostring(err), "deep", "the inner error reached the outer scope")
  T.eq(log["inner child"], "cancelled", "inner sibling cancelled")
  T.eq(log["outer child"], "cancelled", "outer sibling cancelled")
end)

T.case("bad arguments to scope and spawn", function()
  T.raises("bad argument #1 to 'scope'", function() async.scope(nil) end)
  async.scope(function(s)
    T.raises("bad argument #1 to 'spawn'", function() s:spawn(42) end)
  end)
end)

-- shield -------------------------------------------------------------------------------

T.case("shield: fn runs to completion though the task is cancelled meanwhile", function()
  local log = {}
  local t = async.spawn(function()
    local t0 = async.now()
    local r = async.shield(function()
      async.sleep(0.05)
      log[#log + 1] = "slept " .. (async.now() - t0 >= 0.045 and "fully" or "partly")
      return "shielded"
    end)
    log[#log + 1] = "returned " .. r
    local ok, e = pcall(async.sleep, 10)      -- the next suspension raises
    log[#log + 1] = "next:" .. (ok and "ok" or kind(e))
    error(e, 0)
  end)
  async.sleep(0.01)
  local t0 = async.now()
  T.eq(t:cancel(), true, "cancel")
  local err = T.fails(t.await, t)
  T.ok(async.now() - t0 < 0.8, "quick")
  T.ok(async.is_cancelled(err), "ended cancelled")
  T.eq(table.concat(log, ","), "slept fully,returned shielded,next:cancelled", "log")
  T.eq(t:status(), "cancelled", "status")
end)

T.case("shield returns all of fn's results and passes the arguments", function()
  T.values(T.pack(async.shield(function(a, b) async.sleep(0); return a, nil, b end, 1, 2)),
    { n = 3, 1, nil, 2 }, "results")
  T.values(T.pack(async.shield(function() end)), { n = 0 }, "no results")
end)

T.case("shield: errors from fn pass through", function()
  local e = {}
  T.same(T.fails(async.shield, function() async.sleep(0); error(e) end), e, "error value")
end)

T.case("shield: a cancel that arrived before the shield is deferred too", function()
  local log = {}
  local t = async.spawn(function()
    async.current():cancel()
    async.shield(function() async.sleep(0.02); log[#log + 1] = "inside" end)
    log[#log + 1] = "after"
    async.sleep(0)
    log[#log + 1] = "unreachable"
  end)
  T.ok(async.is_cancelled(T.fails(t.await, t)), "ended cancelled")
  T.eq(table.concat(log, ","), "inside,after", "log")
end)

T.case("shield: timeouts created inside still apply", function()
  local out = {}
  local t = async.spawn(function()
    async.shield(function()
      local t0 = async.now()
      local ok, e = pcall(async.timeout, 0.03, async.sleep, 10)
      out.ok, out.kind, out.dt = ok, kind(e), async.now() - t0
    end)
    async.sleep(10)
  end)
  async.sleep(0.005)
  t:cancel()                           -- the task is cancelled, the shield defers it
  local err = T.fails(t.await, t)
  T.ok(async.is_cancelled(err), "the task ended cancelled after the shield")
  T.eq(out.ok, false, "the inner timeout raised")
  T.eq(out.kind, "timeout", "a Timeout, not the deferred cancellation")
  T.ok(out.dt < 0.8, "at its deadline (" .. tostring(out.dt) .. ")")
  -- and without any cancellation
  local t0 = async.now()
  local ok, e = async.shield(function() return pcall(async.timeout, 0.02, async.sleep, 10) end)
  T.eq(ok, false, "raised")
  T.ok(async.is_timeout(e), "Timeout")
  T.ok(async.now() - t0 < 0.8, "quick")
end)

T.case("shield: an enclosing timeout is deferred until it returns", function()
  local log = {}
  local t0 = async.now()
  local err = T.fails(async.timeout, 0.02, function()
    async.shield(function()
      async.sleep(0.06)
      log[#log + 1] = "shield slept"
    end)
    log[#log + 1] = "after shield"
    async.sleep(0)
    log[#log + 1] = "unreachable"
  end)
  local dt = async.now() - t0
  T.ok(async.is_timeout(err), "Timeout after the shield")
  T.ok(dt >= 0.055, "the shielded sleep ran fully (" .. dt .. ")")
  T.ok(dt < 0.8, "quick")
  T.eq(table.concat(log, ","), "shield slept,after shield", "log")
end)

T.case("shield: a timeout created inside a shield inside an expired timeout", function()
  -- the inner timeout's own deadline still raises; the enclosing timeout does not
  local log = {}
  local err = T.fails(async.timeout, 0.01, function()
    async.shield(function()
      local ok, e = pcall(async.timeout, 0.05, async.sleep, 10)
      log[#log + 1] = (ok and "ok" or kind(e))
      async.sleep(0.01)                     -- the enclosing timeout (expired) is deferred
      log[#log + 1] = "slept"
    end)
    async.sleep(0)                          -- now the enclosing timeout raises
    log[#log + 1] = "unreachable"
  end)
  T.ok(async.is_timeout(err), "Timeout")
  T.eq(table.concat(log, ","), "timeout,slept", "log")
end)

T.case("shield outside any cancellation just runs fn", function()
  local t0 = async.now()
  T.eq(async.shield(async.sleep, 0.02), nil, "sleep returns nothing")
  T.ok(async.now() - t0 >= 0.015, "slept")
  async.sleep(0)
end)

T.case("bad arguments to shield", function()
  T.raises("bad argument #1 to 'shield'", function() async.shield(nil) end)
  T.raises("bad argument #1 to 'shield'", function() async.shield("x") end)
end)

T.finish()
