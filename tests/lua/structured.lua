-- Structured concurrency keeps every error and every result (SPEC §3 "No error disappears;
-- a real error wins over a cancellation"; issue 19): an explicit cancel of one child, the
-- root cause kept over clean-up errors, real errors during an outside cancellation,
-- wait_for at and past its deadline, and async.errors. The exit status and stderr side is
-- in tests/structured.bats.
local T = require "testlib"

local kind = T.kind

-- The list async.errors(err) returns, as "a,b,c" (tostring of each).
local function listed(err)
  local es = async.errors(err)
  local out = {}
  for i = 1, es.n do out[i] = kind(es[i]) end
  return table.concat(out, ",")
end

-- A child body that sleeps 10 s and, when cancelled, awaits a little clean-up and then
-- raises err instead of the cancellation.
local function fails_in_cleanup(err, log, name)
  return function()
    local ok, e = pcall(async.sleep, 10)
    async.shield(async.sleep, 0.01)
    if log then log[name] = kind(e) end
    error(err, 0)
  end
end

-- case 1: an explicit cancel of one child is that child's business ------------------------

T.case("a child cancelled explicitly after the body returned: the later child completes", function()
  local t1, t2
  local r = T.pack(async.scope(function(s)
    t1 = s:spawn(function()
      local ok, e = pcall(async.sleep, 10)
      async.shield(async.sleep, 0.02) -- ends cancelled after the body has returned
      error(e, 0)
    end)
    async.sleep(0.01)
    t1:cancel()
    t2 = s:spawn(function() async.sleep(0.05); return "t2 result" end)
    return "body"
  end))
  T.values(r, { n = 1, "body" }, "the scope returns the body's results")
  T.eq(t1:status(), "cancelled", "t1 cancelled")
  T.eq(t2:status(), "done", "t2 was not cancelled")
  T.eq(t2:result(), "t2 result", "t2's result")
end)

T.case("a child cancelled explicitly while the body still runs: the later child completes", function()
  local t1, t2
  local r = T.pack(async.scope(function(s)
    t1 = s:spawn(function() async.sleep(10) end)
    async.sleep(0.01)
    t1:cancel()
    t2 = s:spawn(function() async.sleep(0.03); return "t2 result" end)
    async.sleep(0.01) -- t1 ends cancelled while the body sleeps
    T.eq(t1:status(), "cancelled", "t1 ended before the body returned")
    return "body"
  end))
  T.values(r, { n = 1, "body" }, "the scope returns the body's results")
  T.eq(t2:result(), "t2 result", "t2's result")
end)

T.case("a child cancelled explicitly: running siblings and the body go on", function()
  local log = {}
  local r = async.scope(function(s)
    local victim = s:spawn(function() async.sleep(10) end)
    s:spawn(function() async.sleep(0.03); log[#log + 1] = "sibling" end)
    victim:cancel("not needed")
    async.sleep(0.02)
    log[#log + 1] = "body"
    return "ok"
  end)
  T.eq(r, "ok", "the scope succeeded")
  T.eq(table.concat(log, ","), "body,sibling", "neither was cancelled")
end)

T.case("a child that re-raises a cancelled sibling's Cancelled ends cancelled: no failure", function()
  local t2
  async.scope(function(s)
    local t1 = s:spawn(function() async.sleep(10) end)
    s:spawn(function() t1:await() end) -- re-raises t1's cancellation: cancelled too
    t2 = s:spawn(function() async.sleep(0.03); return 2 end)
    async.sleep(0.01)
    t1:cancel()
  end)
  T.eq(t2:result(), 2, "the other sibling completed")
end)

-- case 2: the root cause is kept over errors raised during the clean-up it started -------

T.case("the body raises B from its clean-up after a child failed with A: A is raised", function()
  local A, B = { "A" }, { "B" }
  local err = T.fails(async.scope, function(s)
    s:spawn(function() async.sleep(0.01); error(A) end)
    pcall(async.sleep, 10) -- cancelled because of A
    error(B)
  end)
  T.same(err, A, "the root cause is raised, as the very value")
  local es = async.errors(err)
  T.eq(es.n, 2, "two errors")
  T.same(es[1], A, "the first is the root cause")
  T.same(es[2], B, "then the clean-up's error")
end)

T.case("siblings raising from their clean-up: all reachable, in the order they happened", function()
  local log = {}
  local err = T.fails(async.scope, function(s)
    s:spawn(fails_in_cleanup("C1", log, "c1"))
    s:spawn(function() async.sleep(0.01); error("A", 0) end)
    s:spawn(function()
      pcall(async.sleep, 10)
      async.shield(async.sleep, 0.03) -- finishes last
      error("C2", 0)
    end)
    pcall(async.sleep, 10)
    error("B", 0)
  end)
  T.eq(err, "A", "the root cause")
  T.eq(listed(err), "A,B,C1,C2", "every error, root cause first")
  T.eq(log.c1, "cancelled", "the sibling was cancelled (because of A)")
end)

T.case("a body failing first is the root cause; the children's clean-up errors follow", function()
  local err = T.fails(async.scope, function(s)
    s:spawn(fails_in_cleanup("child cleanup"))
    async.sleep(0.01)
    error("body first", 0)
  end)
  T.eq(err, "body first", "the body's error")
  T.eq(listed(err), "body first,child cleanup", "and the child's")
end)

T.case("an error re-raised by the body or a sibling that awaited its task counts once", function()
  local A = { "A" }
  local err = T.fails(async.scope, function(s)
    local t = s:spawn(function() async.sleep(0.01); error(A) end)
    s:spawn(function() t:await() end)
    t:await()
  end)
  T.same(err, A, "raised")
  T.eq(async.errors(err).n, 1, "once")
end)

T.case("a child's clean-up that ends cancelled adds nothing", function()
  local err = T.fails(async.scope, function(s)
    s:spawn(function() async.sleep(10) end)
    s:spawn(function() async.sleep(0.01); error("only", 0) end)
    async.sleep(10)
  end)
  T.eq(listed(err), "only", "one error: cancellations are not errors")
end)

T.case("nested scopes: the inner group joins the outer one, root cause first", function()
  local err = T.fails(async.scope, function(outer)
    outer:spawn(function()
      async.scope(function(inner)
        inner:spawn(function() async.sleep(0.01); error("A", 0) end)
        pcall(async.sleep, 10)
        error("B", 0)
      end)
    end)
    outer:spawn(fails_in_cleanup("C"))
    pcall(async.sleep, 10)
    error("D", 0)
  end)
  T.eq(err, "A", "the deepest root cause")
  T.eq(listed(err), "A,B,D,C", "every error, once")
end)

T.case("the group travels with the error through await and result", function()
  local runner = async.spawn(function()
    return async.scope(function(s)
      s:spawn(function() async.sleep(0.01); error("A", 0) end)
      pcall(async.sleep, 10)
      error("B", 0)
    end)
  end)
  local err = T.fails(runner.await, runner)
  T.eq(listed(err), "A,B", "through await")
  T.eq(listed(T.fails(runner.result, runner)), "A,B", "through result")
end)

-- case 3: a real error during an outside cancellation is raised -------------------------

T.case("the task running the scope is cancelled; a child's clean-up error is raised", function()
  local log = {}
  local runner = async.spawn(function()
    return async.scope(function(s)
      s:spawn(fails_in_cleanup("child cleanup", log, "c"))
      async.sleep(10)
    end)
  end)
  async.sleep(0.01)
  runner:cancel()
  local err = T.fails(runner.await, runner)
  T.eq(err, "child cleanup", "the real error wins over the cancellation")
  T.eq(log.c, "cancelled", "the child saw the cancellation")
  T.eq(runner:status(), "failed", "the runner failed (not cancelled)")
end)

T.case("the body's own clean-up error during an outside cancellation is raised", function()
  local runner = async.spawn(function()
    return async.scope(function(s)
      s:spawn(function() async.sleep(10) end)
      pcall(async.sleep, 10)
      error("body cleanup", 0)
    end)
  end)
  async.sleep(0.01)
  runner:cancel()
  T.eq(T.fails(runner.await, runner), "body cleanup", "raised")
end)

T.case("async.timeout around a scope: a child's clean-up error replaces the Timeout", function()
  local err = T.fails(async.timeout, 0.02, async.scope, function(s)
    s:spawn(fails_in_cleanup("child cleanup"))
    s:spawn(function() async.sleep(10) end)
    async.sleep(10)
  end)
  T.eq(err, "child cleanup", "the real error: " .. kind(err))
end)

T.case("without a real error the outside cancellation is raised as before", function()
  local err = T.fails(async.timeout, 0.02, async.scope, function(s)
    s:spawn(function() async.sleep(10) end)
    async.sleep(10)
  end)
  T.ok(async.is_timeout(err), "Timeout: " .. kind(err))
  T.eq(listed(err), "timeout", "alone")
end)

T.case("s:cancel(): a child's clean-up error is raised, not absorbed", function()
  local err = T.fails(async.scope, function(s)
    s:spawn(fails_in_cleanup("child cleanup"))
    async.sleep(0.01)
    s:cancel()
    async.sleep(10)
  end)
  T.eq(err, "child cleanup", "raised")
end)

-- the rule in gather --------------------------------------------------------------------

T.case("gather: the other tasks' errors are reachable from the one raised", function()
  local a = async.spawn(function() async.sleep(0.01); error("A", 0) end)
  local b = async.spawn(fails_in_cleanup("B"))
  local c = async.spawn(function() async.sleep(10) end)
  local err = T.fails(async.gather, { c, b, a })
  T.eq(err, "A", "the first failure")
  T.eq(listed(err), "A,B", "and the clean-up error it caused")
  T.eq(c:status(), "cancelled", "the quiet one was cancelled")
end)

T.case("gather: a cancelled task first, a real clean-up error next: the real error", function()
  local a = async.spawn(function() async.sleep(10) end)
  local b = async.spawn(fails_in_cleanup("B"))
  async.spawn(function() async.sleep(0.01); a:cancel() end)
  local err = T.fails(async.gather, { a, b })
  T.eq(err, "B", "the real error wins over the cancellation: " .. kind(err))
end)

T.case("gather: the caller cancelled, a gathered task's clean-up error is raised", function()
  local b = async.spawn(fails_in_cleanup("B"))
  local caller = async.spawn(function() return async.gather({ b }) end)
  async.sleep(0.01)
  caller:cancel()
  T.eq(T.fails(caller.await, caller), "B", "raised by the caller")
  local err = T.fails(async.timeout, 0.01, async.gather, { async.spawn(fails_in_cleanup("C")) })
  T.eq(err, "C", "and over a Timeout")
end)

T.case("gather without a real error still raises the cancellation", function()
  local a = async.spawn(function() async.sleep(10) end)
  local b = async.spawn(function() async.sleep(10) end)
  async.spawn(function() async.sleep(0.01); a:cancel() end)
  T.ok(async.is_cancelled(T.fails(async.gather, { a, b })), "cancelled")
  T.eq(b:status(), "cancelled", "the other was cancelled")
end)

-- case 4: wait_for at its deadline keeps the task's own error ---------------------------

T.case("wait_for at its deadline: the task's own clean-up error, not Timeout", function()
  local E = { "own" }
  local t = async.spawn(function()
    pcall(async.sleep, 10)
    error(E)
  end)
  local err = T.fails(async.wait_for, t, 0.01)
  T.same(err, E, "the task's error: " .. kind(err))
  T.eq(t:status(), "failed", "the task failed")
end)

T.case("wait_for: the caller cancelled, the task's clean-up error is raised", function()
  local t = async.spawn(fails_in_cleanup("own"))
  local caller = async.spawn(function() return async.wait_for(t, 10) end)
  async.sleep(0.01)
  caller:cancel()
  T.eq(T.fails(caller.await, caller), "own", "the real error wins")
end)

T.case("wait_for at its deadline: a task that ends cancelled still gives Timeout", function()
  local t = async.spawn(function() async.sleep(10) end)
  T.ok(async.is_timeout(T.fails(async.wait_for, t, 0.01)), "Timeout")
end)

T.case("wait_for passes on the group of a task's error", function()
  local t = async.spawn(function()
    return async.scope(function(s)
      s:spawn(function() async.sleep(0.01); error("A", 0) end)
      pcall(async.sleep, 10)
      error("B", 0)
    end)
  end)
  T.eq(listed(T.fails(async.wait_for, t, 5)), "A,B", "through wait_for")
end)

-- case 5: a deadline already past ------------------------------------------------------

T.case("wait_for(t, 0) on a task not started: its body never runs", function()
  local started = false
  local t = async.spawn(function() started = true end)
  local err = T.fails(async.wait_for, t, 0)
  T.ok(async.is_timeout(err), "Timeout: " .. kind(err))
  T.eq(t:status(), "cancelled", "cancelled")
  T.settle()
  T.eq(started, false, "the body never ran")
end)

T.case("wait_for(t, -1) on a task not started: its body never runs", function()
  local started = false
  local t = async.spawn(function() started = true end)
  T.ok(async.is_timeout(T.fails(async.wait_for, t, -1)), "Timeout")
  T.settle()
  T.eq(started, false, "the body never ran")
end)

T.case("wait_for(t, 0) on a task already finished gives its outcome", function()
  local done = async.spawn(function() return "r", 2 end)
  local failed = async.spawn(function() error("boom", 0) end)
  T.settle()
  T.values(T.pack(async.wait_for(done, 0)), { n = 2, "r", 2 }, "the results")
  T.values(T.pack(async.wait_for(done, -5)), { n = 2, "r", 2 }, "negative too")
  T.eq(T.fails(async.wait_for, failed, 0), "boom", "the error")
end)

T.case("wait_for(t, 0) on a started task cancels it and waits for its clean-up", function()
  local cleaned = false
  local t = async.spawn(function()
    local ok, e = pcall(async.sleep, 10)
    async.shield(async.sleep, 0.01)
    cleaned = true
    error(e, 0)
  end)
  async.sleep(0)
  T.ok(async.is_timeout(T.fails(async.wait_for, t, 0)), "Timeout")
  T.eq(cleaned, true, "its clean-up ran before wait_for raised")
end)

-- async.errors -------------------------------------------------------------------------

T.case("async.errors of a value raised alone is a list of that value", function()
  local es = async.errors("plain")
  T.eq(es.n, 1, "one")
  T.eq(es[1], "plain", "the value")
  es = async.errors(nil)
  T.eq(es.n, 1, "nil counts")
  T.raises("bad argument #1 to 'errors'", function() async.errors() end)
end)

T.case("async.errors returns a fresh list each time", function()
  local err = T.fails(async.scope, function(s)
    s:spawn(function() async.sleep(0.01); error("A", 0) end)
    pcall(async.sleep, 10)
    error("B", 0)
  end)
  local es = async.errors(err)
  es[2] = "changed"
  T.eq(listed(err), "A,B", "unchanged")
end)

T.case("a later combinator error replaces the group of the task", function()
  local err = T.fails(async.scope, function(s)
    s:spawn(function() async.sleep(0.01); error("A", 0) end)
    pcall(async.sleep, 10)
    error("B", 0)
  end)
  local other = T.fails(async.gather, { async.spawn(function() error("X", 0) end) })
  T.eq(listed(other), "X", "the new error, alone")
  T.eq(listed(err), "A", "the old one is no longer the task's last group")
end)

T.case("another task does not see this task's group", function()
  local err = T.fails(async.scope, function(s)
    s:spawn(function() async.sleep(0.01); error("A", 0) end)
    pcall(async.sleep, 10)
    error("B", 0)
  end)
  local seen = async.spawn(function() return listed(err) end):await()
  T.eq(seen, "A", "only the value")
  T.eq(listed(err), "A,B", "here, the group")
end)

T.finish()
