-- async.gather, async.as_completed, async.first (SPEC §3 "Combinators and structured
-- concurrency"; the stderr side of "errors count as retrieved" is in tests/faketime.bats)
local T = require "testlib"

local kind = T.kind

-- A task that sleeps d seconds and returns ... .
local function after(d, ...)
  return async.spawn(function(...) async.sleep(d); return ... end, ...)
end

-- A task that sleeps 10 s; when cancelled it records it in log[name] (after an awaiting
-- cleanup) and ends cancelled.
local function sleeper(log, name)
  return async.spawn(function()
    local ok, e = pcall(async.sleep, 10)
    async.shield(async.sleep, 0.01)
    log[name] = kind(e)
    error(e, 0)
  end)
end

-- gather -------------------------------------------------------------------------------

T.case("gather returns the first result of each task, in list order", function()
  local tasks = { after(0.03, "a", "extra"), after(0.01, "b"), after(0.02, "c"), after(0, 4) }
  local r = async.gather(tasks)
  T.eq(type(r), "table", "a table")
  T.eq(#r, 4, "one result per task")
  T.eq(r[1], "a", "r[1] (finished last)")
  T.eq(r[2], "b", "r[2]")
  T.eq(r[3], "c", "r[3]")
  T.eq(r[4], 4, "r[4]")
  for _, t in ipairs(tasks) do T.eq(t:status(), "done", "status") end
end)

T.case("gather: a task returning nothing gives nil in its place", function()
  local r = async.gather({ after(0.01, "x"), after(0), after(0.02, "z") })
  T.eq(r[1], "x", "r[1]")
  T.eq(r[2], nil, "r[2]")
  T.eq(r[3], "z", "r[3]")
end)

T.case("gather({}) returns an empty table", function()
  local r = async.gather({})
  T.eq(type(r), "table", "a table")
  T.eq(next(r), nil, "empty")
end)

T.case("gather of tasks finished already returns at once", function()
  local a, b = after(0, 1), after(0, 2)
  async.sleep(0.01)
  T.eq(a:status(), "done", "finished before the call")
  local r = async.timeout(0, async.gather, { a, b })   -- no suspension needed
  T.eq(r[1] + r[2], 3, "results")
end)

T.case("gather: the first failure cancels the others, waits for them, is raised", function()
  local log = {}
  local e = {}
  local failing = async.spawn(function() async.sleep(0.01); error(e) end)
  local s1, s2 = sleeper(log, "s1"), sleeper(log, "s2")
  local t0 = async.now()
  local err = T.fails(async.gather, { s1, failing, s2 })
  T.ok(async.now() - t0 < 0.8, "well under a second")
  T.same(err, e, "gather raised the failing task's error")
  T.eq(log.s1, "cancelled", "s1 was cancelled and its cleanup ran before gather raised")
  T.eq(log.s2, "cancelled", "s2 as well")
  T.eq(s1:status(), "cancelled", "s1 status")
  T.eq(s2:status(), "cancelled", "s2 status")
  T.eq(failing:status(), "failed", "failing status")
end)

T.case("gather raises the error of the task that failed first, not the first listed", function()
  local late = async.spawn(function() async.sleep(0.03); error("late") end)
  local early = async.spawn(function() async.sleep(0.01); error("early") end)
  local err = T.fails(async.gather, { late, early })
  T.contains(tostring(err), "early", "the first failure")
  T.eq(late:status(), "cancelled", "the later one was cancelled before failing")
end)

T.case("gather: a task that failed before the call is raised", function()
  local bad = async.spawn(function() error("already") end)
  local log = {}
  local s = sleeper(log, "s")
  async.sleep(0.01)
  T.raises("already", async.gather, { s, bad })
  T.eq(log.s, "cancelled", "the other was cancelled")
end)

T.case("gather: a cancelled task counts as a failure", function()
  local log = {}
  local victim = async.spawn(function() async.sleep(10) end)
  local other = sleeper(log, "other")
  async.spawn(function() async.sleep(0.01); victim:cancel() end)
  local t0 = async.now()
  local err = T.fails(async.gather, { victim, other })
  T.ok(async.now() - t0 < 0.8, "well under a second")
  T.ok(async.is_cancelled(err), "gather raised a cancelled value: " .. kind(err))
  T.eq(log.other, "cancelled", "the other task was cancelled")
  -- the caller itself was not cancelled
  async.sleep(0)
end)

T.case("cancelling the task calling gather cancels the gathered tasks", function()
  local log = {}
  local a, b = sleeper(log, "a"), sleeper(log, "b")
  local caller = async.spawn(function() return async.gather({ a, b }) end)
  async.sleep(0.01)
  local t0 = async.now()
  caller:cancel()
  local err = T.fails(caller.await, caller)
  T.ok(async.now() - t0 < 0.8, "quick")
  T.ok(async.is_cancelled(err), "the caller ended cancelled: " .. kind(err))
  T.eq(a:status(), "cancelled", "a was cancelled")
  T.eq(b:status(), "cancelled", "b was cancelled")
  T.eq(log.a, "cancelled", "a's cleanup ran before the caller finished")
  T.eq(log.b, "cancelled", "b's cleanup ran before the caller finished")
end)

T.case("a timeout around gather cancels the gathered tasks", function()
  local log = {}
  local a, b = sleeper(log, "a"), after(0.01, "quick")
  local err = T.fails(async.timeout, 0.03, async.gather, { a, b })
  T.ok(async.is_timeout(err), "Timeout: " .. kind(err))
  T.eq(a:status(), "cancelled", "a cancelled")
  T.eq(log.a, "cancelled", "a's cleanup ran")
  T.eq(b:status(), "done", "b had finished")
end)

T.case("gather of 10,000 tasks", function()
  local tasks = {}
  for i = 1, 10000 do
    tasks[i] = async.spawn(function()
      if i % 3 == 0 then async.sleep(0) end
      if i % 7 == 0 then async.sleep(0.001 * (i % 5)) end
      return i * 2
    end)
  end
  local t0 = async.now()
  local r = async.gather(tasks)
  local dt = async.now() - t0
  T.eq(#r, 10000, "count")
  for i = 1, 10000 do
    if r[i] ~= i * 2 then error("result " .. i .. ": expected " .. i * 2 .. ", got " .. tostring(r[i])) end
  end
  T.ok(dt < 1.5, "reasonable time (" .. dt .. " s)")
end)

T.case("bad arguments to gather", function()
  T.raises("bad argument #1 to 'gather'", function() async.gather(nil) end)
  T.raises("bad argument #1 to 'gather'", function() async.gather({ 1 }) end)
  T.raises("bad argument #1 to 'gather'", function() async.gather("x") end)
end)

T.case("gather's argument errors are the standard ones", function()
  local err = T.fails(function() async.gather(nil) end)
  T.contains(tostring(err), "combinators.lua:", "position")
  T.raises("(table expected, got nil)", function() async.gather(nil) end)
  T.raises("(table expected, got no value)", function() async.gather() end)
end)

-- as_completed -------------------------------------------------------------------------

T.case("as_completed yields the tasks in the order they finish, failures included", function()
  local a = after(0.04, "a")
  local b = after(0.01, "b")
  local bad = async.spawn(function() async.sleep(0.02); error("bad") end)
  local c = after(0.03, "c")
  local order, outcome = {}, {}
  for t in async.as_completed({ a, b, bad, c }) do
    T.ok(t:done(), "a yielded task has finished")
    local ok, v = pcall(t.result, t)
    order[#order + 1] = ok and v or "error"
    outcome[#outcome + 1] = ok and "ok" or (tostring(v):find("bad", 1, true) and "raised" or tostring(v))
  end
  T.eq(table.concat(order, ","), "b,error,c,a", "finish order")
  T.eq(table.concat(outcome, ","), "ok,raised,ok,ok", ":result() on the failed one raised")
end)

T.case("as_completed includes cancelled tasks and yields each task object once", function()
  local a = after(0.02, "a")
  local victim = async.spawn(function() async.sleep(10) end)
  async.spawn(function() async.sleep(0.01); victim:cancel() end)
  local got = {}
  local t0 = async.now()
  for t in async.as_completed({ a, victim }) do got[#got + 1] = t end
  T.ok(async.now() - t0 < 0.8, "quick")
  T.eq(#got, 2, "two tasks")
  T.same(got[1], victim, "the cancelled one first")
  T.same(got[2], a, "then a")
  T.eq(victim:status(), "cancelled", "status")
end)

T.case("as_completed: the iterator ends, and stays ended", function()
  local it = async.as_completed({ after(0, 1) })
  T.ok(it() ~= nil, "one task")
  T.eq(it(), nil, "then nil")
  T.eq(it(), nil, "still nil")
  local n = 0
  for _ in async.as_completed({}) do n = n + 1 end
  T.eq(n, 0, "as_completed({}) yields nothing")
end)

T.case("as_completed does not cancel the tasks it has not yielded yet", function()
  local a, b = after(0.01, "a"), after(0.03, "b")
  for t in async.as_completed({ a, b }) do
    T.same(t, a, "first")
    break
  end
  T.eq(b:status(), "pending", "b still runs")
  T.eq(b:await(), "b", "and finishes")
end)

T.case("bad arguments to as_completed", function()
  T.raises("bad argument #1 to 'as_completed'", function() async.as_completed(nil) end)
  T.raises("bad argument #1 to 'as_completed'", function() async.as_completed({ {} }) end)
end)

-- first --------------------------------------------------------------------------------

T.case("first returns the first task to finish; the others keep running", function()
  local a, b, c = after(0.03, "a"), after(0.01, "b"), after(0.02, "c")
  local t0 = async.now()
  local w = async.first({ a, b, c })
  T.ok(async.now() - t0 < 0.025, "returned when b finished")
  T.same(w, b, "b")
  T.eq(w:result(), "b", "its result")
  T.eq(a:status(), "pending", "a keeps running")
  T.eq(c:status(), "pending", "c keeps running")
  T.eq(a:await(), "a", "a finishes normally")
  T.eq(c:await(), "c", "c finishes normally")
end)

T.case("first returns a failed task without raising", function()
  local bad = async.spawn(function() async.sleep(0.01); error("first bad") end)
  local slow = after(0.05, "slow")
  local w = async.first({ slow, bad })
  T.same(w, bad, "the failed task")
  T.raises("first bad", w.result, w)
  T.eq(slow:status(), "pending", "the other keeps running")
  slow:await()
end)

T.case("first of finished tasks: the one that finished first", function()
  local x = after(0.02, "x")
  local y = after(0.01, "y")
  async.sleep(0.04)
  T.ok(x:done() and y:done(), "both finished")
  T.same(async.first({ x, y }), y, "y finished first, though listed second")
  T.same(async.first({ y, x }), y, "whatever the list order")
  local pending = async.spawn(function() async.sleep(1) end)
  T.same(async.first({ pending, x }), x, "a finished task wins over a pending one")
  pending:cancel()
end)

T.case("first({}) raises", function()
  T.fails(function() async.first({}) end)
  T.raises("bad argument #1 to 'first'", function() async.first(nil) end)
end)

T.finish()
