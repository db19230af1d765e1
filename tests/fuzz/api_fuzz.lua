-- An API fuzzer for the async module, run by asyncrun itself:
--
--   asyncrun tests/fuzz/api_fuzz.lua SEED [--verbose]
--
-- From SEED (math.randomseed) it spawns actors that drive random sequences of async.* calls
-- on shared objects (queues, locks, semaphores, events, futures, tasks) with random and
-- wrong arguments, cancel tasks at random points, and wrap operations in timeouts, shields,
-- scopes and combinators. A ledger checks the invariants SPEC section 3 promises:
--   * the process does not crash and exits 0 (the runner checks the status and stderr);
--   * every task ends: after the run, cancelling what is left lets every task finish, and
--     async.tasks() holds the main task alone;
--   * a lock is held by one task at a time, never by a finished task, and is free at the end;
--   * a semaphore never has more holders than its permits; its value is back at the end;
--   * every item a put (or a true try_put) accepted is delivered exactly once (by get,
--     try_get, or the final drain), and nothing else is delivered;
--   * sleeps and timeouts never end early on async.now()'s clock;
--   * cancellation is level-triggered; a shield defers it; a cancelled task never sees a
--     Timeout instead; combinators (gather, wait_for, scope) return only once the tasks they
--     own have finished; a task's final status and results match what its body did;
--   * wrong arguments raise an error whose message names the function;
--   * random bytes in argv, the environment, cwd, socket paths and signal names are refused
--     (a zero byte, '=' in a name) or handed over, never cut or crashing.
-- Each violation is collected with where it happened; the run then fails (exit 1) listing
-- them. Every wrong-argument call is wrapped in pcall. A seed runs well under 2 s.
local A = async
local seed = math.tointeger(tonumber(arg and arg[1] or "1")) or 1
local verbose = arg and arg[2] == "--verbose"
math.randomseed(seed)
local R = math.random

local violations = {}
local function violation(fmt, ...)
  local msg = fmt:format(...)
  violations[#violations + 1] = debug.traceback(msg, 2)
end

local function log(fmt, ...)
  if verbose then io.stderr:write(("[%d] " .. fmt .. "\n"):format(seed, ...)) end
end

local function pick(list) return list[R(#list)] end
local function chance(p) return R() < p end

-- small sleeps: 0, or up to 3 ms
local function small_delay()
  if chance(0.4) then return 0 end
  return R(1, 30) / 10000
end

local EPS = 1e-9

-- async.sleep that checks it did not end early (on async.now()'s clock)
local function sleep(d)
  local t0 = A.now()
  A.sleep(d)
  local el = A.now() - t0
  if d > 0 and el < d - EPS then violation("sleep(%g) ended after %g s", d, el) end
end

local function is_cancel(e) return A.is_cancelled(e) end
local function is_timeout(e) return A.is_timeout(e) end
-- an interruption (cancel or timeout) rather than a real failure
local function is_interrupt(e) return is_cancel(e) or is_timeout(e) end

---------------------------------------------------------------------------------------------
-- The task ledger
---------------------------------------------------------------------------------------------

local records = {}        -- every task spawned by the fuzzer: {t, kind, expect, exposed}
local by_task = {}        -- task -> record
local next_item = 0

local function track(t, kind, expect)
  local rec = { t = t, kind = kind, expect = expect, exposed = false }
  records[#records + 1] = rec
  by_task[t] = rec
  return t
end

-- Anything that may cancel a task marks it first (cancel, gather, wait_for, scope, shutdown).
local function expose(t)
  local rec = by_task[t]
  if rec then rec.exposed = true end
end

local function current_rec() return by_task[A.current()] end

-- The task's own cancellation was requested before now (as far as the ledger knows).
local function cancel_requested()
  local rec = current_rec()
  return rec and rec.cancel_at ~= nil
end

local function cancel(t, reason)
  expose(t)
  local rec = by_task[t]
  local was_done = t:done()
  local ok = t:cancel(reason)
  if ok == was_done then violation("cancel() returned %s for a task done=%s", tostring(ok), tostring(was_done)) end
  if ok and rec and not rec.cancel_at then rec.cancel_at = A.now() end
  return ok
end

local function tracked_tasks_unfinished()
  local n = 0
  for _, rec in ipairs(records) do if not rec.t:done() then n = n + 1 end end
  return n
end

---------------------------------------------------------------------------------------------
-- Leaf task bodies: their outcome is known in advance
---------------------------------------------------------------------------------------------

local function leaf_body(kind, id, d)
  if kind == "ret" then
    return function()
      sleep(d)
      return id, "r" .. id
    end
  elseif kind == "ret0" then
    return function() return id end -- no suspension at all
  elseif kind == "err" then
    return function()
      sleep(d)
      error("boom-" .. id, 0)
    end
  elseif kind == "errt" then
    return function()
      sleep(d)
      error(by_task[A.current()].expect.err)
    end
  elseif kind == "selfcancel" then
    return function()
      local me = A.current()
      cancel(me, "self")
      sleep(d)
      violation("a task that cancelled itself went past its next suspension")
      return id
    end
  elseif kind == "swallow" then
    -- level-triggered cancellation: once raised, every later suspension raises it again
    return function()
      local seen = false
      for _ = 1, 4 do
        local ok, e = pcall(A.sleep, d)
        if ok and seen then violation("a swallowed cancellation was not raised again") end
        if not ok then
          if is_cancel(e) then seen = true else violation("swallow: unexpected error %s", tostring(e)) end
        end
      end
      return id, "r" .. id
    end
  elseif kind == "shielded" then
    return function()
      local finished = false
      local ok, e = pcall(A.shield, function()
        sleep(d)
        sleep(d)
        finished = true
      end)
      if not ok then violation("shield raised %s", tostring(e)) end
      if not finished then violation("a shield's body did not finish") end
      sleep(d) -- a cancellation that came meanwhile is raised here
      return id, "r" .. id
    end
  end
  error("unknown leaf kind " .. kind)
end

local leaf_kinds = { "ret", "ret", "ret0", "err", "errt", "selfcancel", "swallow", "shielded" }

local function spawn_leaf(kind)
  next_item = next_item + 1
  local id = next_item
  kind = kind or pick(leaf_kinds)
  local d = small_delay()
  local expect = { id = id }
  if kind == "errt" then expect.err = { id = id } end
  local rec_t
  -- the record must exist before the task starts: spawn never runs the body at once
  rec_t = A.spawn(leaf_body(kind, id, d))
  track(rec_t, kind, expect)
  if kind == "selfcancel" then expose(rec_t) end
  if chance(0.3) then rec_t.name = "leaf-" .. id end
  return rec_t
end

-- Checks a finished leaf task against its body.
local function check_leaf(rec)
  local t, kind, st = rec.t, rec.kind, rec.t:status()
  if st == "pending" or st == "running" then
    violation("task %d (%s) still %s at the end", t.id, kind, st)
    return
  end
  if st == "cancelled" then
    if not rec.exposed then violation("task %d (%s) cancelled though nothing cancelled it", t.id, kind) end
    local ok, e = pcall(t.result, t)
    if ok or not is_cancel(e) then violation("result() of cancelled task %d gave %s", t.id, tostring(e)) end
    return
  end
  local ok, a, b = pcall(t.result, t)
  if kind == "ret" or kind == "swallow" or kind == "shielded" then
    if st ~= "done" then violation("task %d (%s) ended %s (%s)", t.id, kind, st, tostring(a)) end
    if st == "done" and (a ~= rec.expect.id or b ~= "r" .. rec.expect.id) then
      violation("task %d (%s) results %s, %s", t.id, kind, tostring(a), tostring(b))
    end
  elseif kind == "ret0" then
    if st ~= "done" or a ~= rec.expect.id or b ~= nil then
      violation("task %d (ret0) ended %s with %s, %s", t.id, st, tostring(a), tostring(b))
    end
  elseif kind == "err" then
    if st ~= "failed" or ok or a ~= "boom-" .. rec.expect.id then
      violation("task %d (err) ended %s: %s", t.id, st, tostring(a))
    end
  elseif kind == "errt" then
    if st ~= "failed" or ok or not rawequal(a, rec.expect.err) then
      violation("task %d (errt) ended %s: %s (not the very error table)", t.id, st, tostring(a))
    end
  elseif kind == "selfcancel" then
    violation("task %d (selfcancel) ended %s", t.id, st)
  end
end

---------------------------------------------------------------------------------------------
-- Shared objects and their ledgers
---------------------------------------------------------------------------------------------

local queues, locks, sems, events, futures = {}, {}, {}, {}, {}

for i = 1, R(1, 3) do
  local max = pick({ false, 0, 1, 2, 5 }) or nil
  -- attempted: put called (a parked putter's item may be taken before put returns);
  -- put: put returned normally or try_put returned true; got: delivered
  queues[i] = { q = A.queue(max), max = max, attempted = {}, put = {}, got = {}, closed = false }
end
for i = 1, R(1, 2) do locks[i] = { l = A.lock(), owner = nil } end
for i = 1, R(1, 2) do
  local n = R(1, 3)
  sems[i] = { s = A.semaphore(n), n = n, holders = 0 }
end
for i = 1, R(1, 2) do events[i] = { e = A.event() } end
for i = 1, R(1, 3) do futures[i] = { f = A.future(), state = nil } end

-- A to-be-closed holder that keeps the ledger in step with the guard.
local Hold = {}
Hold.__index = Hold
Hold.__close = function(h)
  if h.released then return end
  h.released = true
  h.on_release()
  h.guard:release()
end

local function hold_lock(L)
  local me = A.current()
  local g = L.l:acquire()
  if L.owner ~= nil then
    violation("lock acquired by task %d while task %d holds it", me.id, L.owner.id)
  end
  if not L.l:locked() then violation("lock:locked() false while held") end
  L.owner = me
  local rec = current_rec()
  if rec then rec.holds = (rec.holds or 0) + 1 end
  return setmetatable({ guard = g, on_release = function()
    if L.owner ~= me then violation("lock released by a task that does not own it in the ledger") end
    L.owner = nil
    if rec then rec.holds = rec.holds - 1 end
  end }, Hold)
end

local function hold_sem(S)
  local g = S.s:acquire()
  S.holders = S.holders + 1
  if S.holders > S.n then violation("semaphore over-subscribed: %d holders for %d permits", S.holders, S.n) end
  if S.s:value() < 0 then violation("semaphore value %d", S.s:value()) end
  local rec = current_rec()
  if rec then rec.holds = (rec.holds or 0) + 1 end
  return setmetatable({ guard = g, on_release = function()
    S.holders = S.holders - 1
    if rec then rec.holds = rec.holds - 1 end
  end }, Hold)
end

local function new_item()
  next_item = next_item + 1
  return "item-" .. seed .. "-" .. next_item
end

local function record_get(Q, v, how)
  if v == nil then return end
  if not Q.attempted[v] then violation("%s delivered %s, never put", how, tostring(v)) end
  if Q.got[v] then violation("%s delivered %s twice", how, tostring(v)) end
  Q.got[v] = true
end

---------------------------------------------------------------------------------------------
-- Wrong arguments: each call must raise, and the message must name the function
---------------------------------------------------------------------------------------------

local dummy_task = A.spawn(function() return 1 end)
local NIL = {} -- stands for nil in the list below
local weird = { NIL, false, true, 0, -1, 1.5, 0 / 0, math.huge, -math.huge, math.maxinteger,
  "x", "", {}, setmetatable({}, { __index = function() error("no") end }), print,
  coroutine.create(function() end) }

local function wrong_calls()
  local w = pick(weird)
  if w == NIL then w = nil end
  local Q, L, S = pick(queues).q, pick(locks).l, pick(sems).s
  local E, F = pick(events).e, pick(futures).f
  return {
    { "spawn", function() return A.spawn(w) end, type(w) ~= "function" },
    { "spawn", function() return A.spawn() end, true },
    { "sleep", function() return A.sleep(w) end, type(w) ~= "number" or w ~= w },
    { "sleep", function() return A.sleep() end, true },
    { "timeout", function() return A.timeout(w, function() end) end, type(w) ~= "number" or w ~= w },
    { "timeout", function() return A.timeout(0.01, w) end, type(w) ~= "function" },
    { "shield", function() return A.shield(w) end, type(w) ~= "function" },
    { "gather", function() return A.gather(w) end, type(w) ~= "table" },
    { "gather", function() return A.gather({ dummy_task, 7 }) end, true },
    { "first", function() return A.first({}) end, true },
    { "first", function() return A.first(w) end, type(w) ~= "table" },
    { "as_completed", function() return A.as_completed(w) end, type(w) ~= "table" },
    { "wait_for", function() return A.wait_for(w, 1) end, true },
    { "wait_for", function() return A.wait_for(dummy_task, w) end, type(w) ~= "number" or w ~= w },
    { "scope", function() return A.scope(w) end, type(w) ~= "function" },
    { "semaphore", function() return A.semaphore(-1) end, true },
    { "semaphore", function() return A.semaphore(1.5) end, true },
    { "queue", function() return A.queue(-3) end, true },
    { "queue", function() return A.queue(2.5) end, true },
    { "put", function() return Q:put(nil) end, true },
    { "try_put", function() return Q:try_put(nil) end, true },
    { "put", function() return Q.put(w, 1) end, true },
    { "get", function() return Q.get(w) end, true },
    { "acquire", function() return L.acquire(w) end, true },
    { "release", function() return S.release(w) end, true },
    { "wait", function() return E.wait(w) end, true },
    { "set", function() return F.set(w) end, true },
    { "await", function() return dummy_task.await(w) end, true },
    { "cancel", function() return dummy_task.cancel(w) end, true },
    { "status", function() return dummy_task.status(w) end, true },
    { "is_cancelled", function() return A.is_cancelled() end, true },
    { "is_timeout", function() return A.is_timeout() end, true },
    { "signal", function() return A.signal("NOSUCHSIGNAL") end, true },
    { "signal", function() return A.signal(w) end, type(w) ~= "string" and type(w) ~= "number" },
    { "exec", function() return A.exec(w) end, type(w) ~= "table" },
    { "capture", function() return A.capture(w) end, type(w) ~= "table" },
    { "connect", function() return A.tcp.connect(w, 80) end, type(w) ~= "string" },
    { "connect", function() return A.tcp.connect("127.0.0.1", w) end, math.type(w) ~= "integer" },
    { "listen", function() return A.tcp.listen("127.0.0.1", 0, w) end, type(w) ~= "function" },
    { "resolve", function() return A.resolve(w) end, type(w) ~= "string" and type(w) ~= "number" },
  }
end

local function wrong_arg_call()
  local calls = wrong_calls()
  local c = pick(calls)
  local fname, fn, must_fail = c[1], c[2], c[3]
  if not must_fail then return end -- a valid value came up: not a wrong call
  local ok, e = pcall(fn)
  if ok then
    violation("%s with a wrong argument did not raise", fname)
  elseif is_interrupt(e) then
    -- the caller's own cancellation or timeout may be what was raised: fine
  elseif type(e) ~= "string" or not e:find("'" .. fname .. "'", 1, true) then
    violation("wrong argument to %s: the error does not name it: %s", fname, tostring(e))
  end
end

-- Suspending where Lua cannot yield must raise a clear error, not crash.
local function non_yieldable_call()
  local which = R(3)
  local ok, e
  if which == 1 then
    ok, e = pcall(table.sort, { 3, 1, 2 }, function(a, b) A.sleep(0) return a < b end)
  elseif which == 2 then
    ok, e = pcall(string.gsub, "abc", "%w", function() A.sleep(0) end)
  else
    ok, e = pcall(load, function() A.sleep(0) end)
  end
  if ok and which ~= 3 then
    violation("suspending inside a non-yieldable call did not raise")
  elseif not ok and not is_interrupt(e) and not tostring(e):find("non-yieldable", 1, true) then
    violation("suspending inside a non-yieldable call raised %s", tostring(e))
  end
end

---------------------------------------------------------------------------------------------
-- Actor operations
---------------------------------------------------------------------------------------------

local ops = {}

function ops.put()
  local Q = pick(queues)
  local v = new_item()
  Q.attempted[v] = true
  local ok, e = pcall(Q.q.put, Q.q, v)
  if ok then
    Q.put[v] = true
  elseif not is_interrupt(e) and not tostring(e):find("closed queue", 1, true) then
    violation("put raised %s", tostring(e))
  elseif tostring(e):find("closed queue", 1, true) and not Q.closed then
    violation("put raised %s on an open queue", tostring(e))
  end
  return e
end

function ops.try_put()
  local Q = pick(queues)
  local v = new_item()
  Q.attempted[v] = true
  local ok = Q.q:try_put(v)
  if ok then Q.put[v] = true end
  if ok and Q.closed then violation("try_put on a closed queue returned true") end
end

function ops.get()
  local Q = pick(queues)
  local ok, v = pcall(Q.q.get, Q.q)
  if ok then
    if v == nil and not Q.closed then violation("get returned nil on an open queue") end
    record_get(Q, v, "get")
  elseif not is_interrupt(v) then
    violation("get raised %s", tostring(v))
  end
  return v
end

function ops.try_get()
  local Q = pick(queues)
  record_get(Q, Q.q:try_get(), "try_get")
end

function ops.iter()
  local Q = pick(queues)
  if not Q.closed then return end -- iter ends only once the queue is closed and drained
  local ok, e = pcall(function()
    for v in Q.q:iter() do record_get(Q, v, "iter") end
  end)
  if not ok and not is_interrupt(e) then violation("iter raised %s", tostring(e)) end
  return e
end

function ops.lock()
  local L = pick(locks)
  local ok, e = pcall(function()
    local _ <close> = hold_lock(L)
    sleep(small_delay())
    if chance(0.2) then error("inside the lock", 0) end
  end)
  if not ok and not is_interrupt(e) and e ~= "inside the lock" then violation("lock: %s", tostring(e)) end
  if L.owner == A.current() then violation("lock still owned after its guard closed") end
  return e
end

function ops.semaphore()
  local S = pick(sems)
  local ok, e = pcall(function()
    local _ <close> = hold_sem(S)
    sleep(small_delay())
    if chance(0.2) then error("inside the semaphore", 0) end
  end)
  if not ok and not is_interrupt(e) and e ~= "inside the semaphore" then
    violation("semaphore: %s", tostring(e))
  end
  return e
end

function ops.event()
  local E = pick(events)
  local r = R(4)
  if r == 1 then
    E.e:set()
    if not E.e:is_set() then violation("event not set after set()") end
  elseif r == 2 then
    E.e:clear()
  else
    local ok, v = pcall(A.timeout, R(1, 50) / 10000, E.e.wait, E.e)
    if ok and v ~= true then violation("event wait returned %s", tostring(v)) end
    if not ok and not is_interrupt(v) then violation("event wait raised %s", tostring(v)) end
    return v
  end
end

function ops.future()
  local Fr = pick(futures)
  local r = R(4)
  if r == 1 or r == 2 then
    local ok, e
    if r == 1 then
      ok, e = pcall(Fr.f.set, Fr.f, "v1", nil, "v3")
    else
      Fr.err = Fr.err or { "ferr" }
      ok, e = pcall(Fr.f.fail, Fr.f, Fr.err)
    end
    if ok then
      if Fr.state then violation("a finished future accepted set/fail again") end
      Fr.state = r == 1 and "set" or "failed"
    elseif not Fr.state then
      violation("set/fail of a pending future raised %s", tostring(e))
    end
  else
    local ok, a, b, c = pcall(A.timeout, R(1, 50) / 10000, Fr.f.await, Fr.f)
    if ok then
      if Fr.state == "set" then
        if a ~= "v1" or b ~= nil or c ~= "v3" then violation("future await gave %s %s %s", tostring(a), tostring(b), tostring(c)) end
      else
        violation("future await returned though the future is %s", tostring(Fr.state))
      end
    elseif not is_interrupt(a) then
      if Fr.state ~= "failed" or not rawequal(a, Fr.err) then
        violation("future await raised %s (state %s)", tostring(a), tostring(Fr.state))
      end
    end
    return a
  end
end

function ops.spawn_leaf()
  local t = spawn_leaf()
  if chance(0.3) then sleep(0) end
  if chance(0.3) then cancel(t, chance(0.5) and "why" or nil) end
end

function ops.await()
  local t = spawn_leaf()
  if chance(0.3) then cancel(t) end
  local ok, e = pcall(t.await, t)
  if not t:done() then
    if not is_interrupt(e) then violation("await returned before the task finished") end
  end
  return e
end

function ops.cancel_random()
  if #records == 0 then return end
  local rec = records[R(#records)]
  if rec.kind == "actor" and not chance(0.3) then return end
  cancel(rec.t, chance(0.5) and "random" or nil)
end

function ops.gather()
  local ts = {}
  for i = 1, R(0, 4) do ts[i] = spawn_leaf() end
  for _, t in ipairs(ts) do expose(t) end
  if chance(0.2) and #ts > 0 then cancel(ts[R(#ts)]) end
  local ok, r = pcall(A.gather, ts)
  for i, t in ipairs(ts) do
    if not t:done() then violation("gather %s while task #%d still runs", ok and "returned" or "raised", i) end
  end
  if ok then
    for i, t in ipairs(ts) do
      if t:status() ~= "done" then violation("gather returned but task #%d is %s", i, t:status()) end
      local first = t:result()
      if r[i] ~= first then violation("gather result #%d: %s vs %s", i, tostring(r[i]), tostring(first)) end
    end
  end
  return r
end

function ops.first()
  local ts = {}
  for i = 1, R(1, 4) do ts[i] = spawn_leaf() end
  local ok, t = pcall(A.first, ts)
  if ok then
    if not t:done() then violation("first returned an unfinished task") end
    local found = false
    for _, x in ipairs(ts) do if rawequal(x, t) then found = true end end
    if not found then violation("first returned a task not in the list") end
  elseif not is_interrupt(t) then
    violation("first raised %s", tostring(t))
  end
  return t
end

function ops.as_completed()
  local ts = {}
  for i = 1, R(0, 4) do ts[i] = spawn_leaf() end
  local seen, n = {}, 0
  local ok, e = pcall(function()
    for t in A.as_completed(ts) do
      if not t:done() then violation("as_completed yielded an unfinished task") end
      if seen[t] then violation("as_completed yielded a task twice") end
      seen[t] = true
      n = n + 1
    end
  end)
  if ok and n ~= #ts then violation("as_completed yielded %d of %d tasks", n, #ts) end
  if not ok and not is_interrupt(e) then violation("as_completed raised %s", tostring(e)) end
  return e
end

function ops.wait_for()
  local t = spawn_leaf(pick({ "ret", "err", "swallow", "shielded" }))
  expose(t)
  local ok, e = pcall(A.wait_for, t, R(0, 40) / 10000)
  if not t:done() then violation("wait_for %s while its task still runs", ok and "returned" or "raised") end
  if ok and t:status() ~= "done" then violation("wait_for returned for a %s task", t:status()) end
  return e
end

function ops.timeout()
  local d = pick({ -1, 0, R(1, 40) / 10000, math.huge })
  local inner = small_delay()
  local before_cancel = cancel_requested()
  local t0 = A.now()
  local ok, e = pcall(A.timeout, d, function()
    sleep(inner)
    return "in time"
  end)
  local el = A.now() - t0
  if ok and e ~= "in time" then violation("timeout returned %s", tostring(e)) end
  if not ok then
    if is_timeout(e) then
      if before_cancel then violation("a cancelled task got a Timeout instead of Cancelled") end
      if d > 0 and el < d - EPS then violation("timeout(%g) expired after %g s", d, el) end
    elseif not is_cancel(e) then
      violation("timeout raised %s", tostring(e))
    end
  end
  -- an infinite sleep inside a finite timeout must end with the timeout
  if chance(0.2) then
    local ok2, e2 = pcall(A.timeout, R(1, 20) / 10000, A.sleep, math.huge)
    if ok2 or not is_interrupt(e2) then violation("sleep(inf) inside timeout gave %s", tostring(e2)) end
  end
  return e
end

function ops.shield()
  local done = false
  local ok, e = pcall(A.shield, function()
    sleep(small_delay())
    done = true
    return "shielded"
  end)
  if not ok then violation("shield raised %s", tostring(e)) end
  if not done then violation("shield body did not finish") end
  -- a cancellation that arrived meanwhile is raised at the next suspension
  local ok2, e2 = pcall(A.sleep, 0)
  if not ok2 and not is_interrupt(e2) then violation("sleep after a shield raised %s", tostring(e2)) end
  return e2
end

function ops.scope()
  local children = {}
  local fail_child = chance(0.3)
  local cancel_scope = chance(0.15)
  local ok, e = pcall(A.scope, function(s)
    for i = 1, R(0, 4) do
      next_item = next_item + 1
      local id, d = next_item, small_delay()
      local kind = (fail_child and i == 1) and "err" or pick({ "ret", "ret0", "swallow" })
      local t = s:spawn(leaf_body(kind, id, d))
      track(t, kind, { id = id })
      expose(t) -- a failing sibling cancels it
      children[#children + 1] = t
    end
    if cancel_scope then s:cancel() end
    sleep(small_delay())
    return "body"
  end)
  for i, t in ipairs(children) do
    if not t:done() then violation("scope %s while child #%d still runs", ok and "returned" or "raised", i) end
  end
  if ok and e ~= "body" and e ~= nil then violation("scope returned %s", tostring(e)) end
  if ok and fail_child and not cancel_scope and e == "body" then
    -- the failing child ran only if it was not cancelled first; if it failed, scope raises
    if children[1] and children[1]:status() == "failed" then
      violation("scope returned normally although a child failed")
    end
  end
  if not ok and not is_interrupt(e) and not (type(e) == "string" and e:find("^boom%-")) then
    violation("scope raised %s", tostring(e))
  end
  return e
end

function ops.generator()
  -- suspensions forwarded through a user coroutine
  local gen = coroutine.wrap(function()
    for i = 1, 3 do
      sleep(small_delay())
      coroutine.yield(i)
    end
  end)
  local ok, e = pcall(function()
    for i = 1, 3 do
      local v = gen()
      if v ~= i then violation("generator gave %s, expected %d", tostring(v), i) end
    end
  end)
  if not ok and not is_interrupt(e) then violation("generator raised %s", tostring(e)) end
  return e
end

function ops.sleep()
  local ok, e = pcall(sleep, small_delay())
  if not ok and not is_interrupt(e) then violation("sleep raised %s", tostring(e)) end
  return e
end

function ops.close_queue()
  if not chance(0.15) then return end
  local Q = pick(queues)
  Q.closed = true
  Q.q:close()
end

ops.wrong = wrong_arg_call
ops.nonyield = non_yieldable_call

-- Random bytes where the API makes C strings (argv, the environment, cwd, a socket path, a
-- signal name): a zero byte, or '=' in an environment name, raises naming the function;
-- anything else starts the program or fails with nil, message, code. Programs are "true"
-- (its arguments and environment random) or under /nonexistent/, so nothing random runs.
local function random_bytes()
  local t = {}
  for i = 1, R(0, 12) do t[i] = string.char(chance(0.1) and 0 or R(0, 255)) end
  return table.concat(t)
end

local function has(s, c) return s:find(c, 1, true) ~= nil end

function ops.bytes()
  if not chance(0.3) then return end
  local b, v = random_bytes(), random_bytes()
  local which, fname, raises, why = R(6), "exec'", has(b, "\0"), "contains a zero byte"
  local call
  if which == 1 then
    call = function() return A.exec({ "/nonexistent/" .. b }, { stdout = "null" }) end
  elseif which == 2 then
    call = function() return A.exec({ "true", b, v }, { stdout = "null" }) end
    raises = raises or has(v, "\0")
  elseif which == 3 then
    call = function() return A.exec({ "true" }, { env = { [b] = v }, stdout = "null" }) end
    if not raises and has(b, "=") then raises, why = true, "contains '='" end
    if not raises and b == "" then raises, why = true, "is empty" end
    raises = raises or has(v, "\0")
  elseif which == 4 then
    call = function() return A.exec({ "true" }, { cwd = "/nonexistent/" .. b, stdout = "null" }) end
  elseif which == 5 then
    fname = "'connect'"
    call = function() return A.unix.connect("/nonexistent/" .. b) end
  else
    fname, raises = "signal'", true
    if not has(b, "\0") then why = "signal" end -- an unknown one (random bytes name none)
    call = function() return A.signal(b) end
  end
  local ok, r, msg, code = pcall(call)
  if not ok then
    if is_interrupt(r) then return end
    if not raises then
      violation("%s raised for %q: %s", fname, b, tostring(r))
    elseif type(r) ~= "string" or not has(r, fname) or not has(r, why) then
      violation("%s of %q: the error does not say '%s': %s", fname, b, why, tostring(r))
    end
  elseif raises then
    violation("%s of %q did not raise", fname, b)
  elseif r == nil then
    if type(msg) ~= "string" or math.type(code) ~= "integer" then
      violation("%s of %q failed without a message and a code: %s, %s", fname, b, tostring(msg), tostring(code))
    end
  elseif fname == "'connect'" then
    violation("connect to /nonexistent/%q succeeded", b)
  else
    local done, e = pcall(r.wait, r)
    if not done and not is_interrupt(e) then violation("wait raised %s", tostring(e)) end
  end
end

-- A blocking operation under a deadline or a shield, or both nested: an interrupted put,
-- get, acquire or wait must consume nothing (the ledgers above check it).
local wrappable = { "put", "get", "lock", "semaphore", "event", "future", "await", "gather", "scope" }
function ops.wrapped()
  local name = pick(wrappable)
  local how = R(4)
  local before_cancel = cancel_requested()
  local ok, e
  if how == 1 then
    ok, e = pcall(A.timeout, R(0, 30) / 10000, ops[name])
  elseif how == 2 then
    ok, e = pcall(A.shield, ops[name])
  elseif how == 3 then
    ok, e = pcall(A.timeout, R(0, 30) / 10000, A.timeout, R(0, 30) / 10000, ops[name])
  else
    ok, e = pcall(A.shield, A.timeout, R(0, 30) / 10000, ops[name])
  end
  if not ok then
    if is_timeout(e) and before_cancel and how ~= 4 then
      violation("a cancelled task got a Timeout from a wrapped %s", name)
    elseif not is_interrupt(e) then
      violation("wrapped %s raised %s", name, tostring(e))
    end
  end
  return ok and nil or e
end

local op_names = {}
for name in pairs(ops) do op_names[#op_names + 1] = name end
table.sort(op_names) -- pairs() order is not deterministic across runs
local weights = { put = 4, get = 4, try_put = 2, try_get = 2, lock = 3, semaphore = 3, sleep = 2,
  event = 2, future = 2, spawn_leaf = 2, await = 2, wrong = 3 }
local bag = {}
for _, name in ipairs(op_names) do
  for _ = 1, weights[name] or 1 do bag[#bag + 1] = name end
end

-- An actor: a bounded random sequence of operations. It either propagates its own
-- cancellation (as real code does) or swallows it and goes on (each later suspension then
-- raises it again, so it cannot stay alive for long).
local function actor(n_ops, propagate)
  for _ = 1, n_ops do
    local name = pick(bag)
    local ok, e = pcall(ops[name])
    if not ok and not is_interrupt(e) then violation("op %s raised %s", name, tostring(e)) end
    -- a Cancelled value may also come from another task's await: only our own propagates
    if propagate and is_cancel(e) and cancel_requested() then error(e, 0) end
  end
  local rec = current_rec()
  if rec and (rec.holds or 0) ~= 0 then violation("actor ended holding %d lock(s)/permit(s)", rec.holds) end
  return "actor-done"
end

---------------------------------------------------------------------------------------------
-- The run
---------------------------------------------------------------------------------------------

local function main()
  local actors = {}
  local n_actors = R(6, 30)
  for i = 1, n_actors do
    local t = A.spawn(actor, R(10, 50), chance(0.7))
    track(t, "actor", {})
    t.name = "actor-" .. i
    actors[i] = t
  end
  -- a chaos task: cancels at random points
  local chaos = A.spawn(function()
    for _ = 1, R(0, 30) do
      sleep(small_delay())
      ops.cancel_random()
    end
  end)
  track(chaos, "actor", {})

  -- let them run, then wind down
  local deadline = A.now() + 0.4
  while tracked_tasks_unfinished() > 0 and A.now() < deadline do sleep(0.002) end

  -- release everything that may wait forever: close queues, set events, finish futures
  for _, Q in ipairs(queues) do
    Q.closed = true
    Q.q:close()
  end
  for _, E in ipairs(events) do E.e:set() end
  for _, Fr in ipairs(futures) do
    if not Fr.state then
      Fr.state = "set"
      Fr.f:set("v1", nil, "v3")
    end
  end
  -- then cancel whatever is left, and wait for every task to end
  for _, rec in ipairs(records) do
    if not rec.t:done() then cancel(rec.t, "wind-down") end
  end
  deadline = A.now() + 5.0 -- generous: a slow machine or valgrind must not look like a hang
  while tracked_tasks_unfinished() > 0 and A.now() < deadline do sleep(0.002) end
  for _, rec in ipairs(records) do
    if not rec.t:done() then
      violation("task %d (%s, %s) did not end after cancellation", rec.t.id, rec.kind, rec.t:status())
    end
  end
  sleep(0)
  local live = A.tasks()
  local others = {}
  for _, t in ipairs(live) do
    if t ~= A.current() then others[#others + 1] = tostring(t) end
  end
  if #others > 0 then violation("live tasks besides main at the end: %s", table.concat(others, ", ")) end

  -- final ledger checks
  for _, rec in ipairs(records) do
    if rec.kind == "actor" then
      local st = rec.t:status()
      if st == "failed" then
        violation("actor %d failed: %s", rec.t.id, tostring(select(2, pcall(rec.t.result, rec.t))))
      elseif st == "cancelled" and not rec.exposed then
        violation("actor %d cancelled though nothing cancelled it", rec.t.id)
      end
      if (rec.holds or 0) ~= 0 then violation("task %d finished holding %d lock(s)/permit(s)", rec.t.id, rec.holds) end
    else
      check_leaf(rec)
      if (rec.holds or 0) ~= 0 then violation("task %d finished holding %d lock(s)/permit(s)", rec.t.id, rec.holds) end
    end
    pcall(rec.t.result, rec.t) -- retrieve every failure: nothing is reported as unawaited
  end
  for i, L in ipairs(locks) do
    if L.l:locked() then violation("lock %d still locked at the end (ledger owner %s)", i, tostring(L.owner)) end
    if L.owner then violation("lock %d: ledger owner %s at the end", i, tostring(L.owner)) end
  end
  for i, S in ipairs(sems) do
    if S.s:value() ~= S.n then violation("semaphore %d value %d at the end, expected %d", i, S.s:value(), S.n) end
    if S.holders ~= 0 then violation("semaphore %d: %d holders at the end", i, S.holders) end
  end
  for i, Q in ipairs(queues) do
    local v = Q.q:try_get()
    while v ~= nil do
      record_get(Q, v, "the final drain")
      v = Q.q:try_get()
    end
    local lost = 0
    for item in pairs(Q.put) do
      if not Q.got[item] then lost = lost + 1 end
    end
    if lost > 0 then violation("queue %d: %d accepted item(s) never delivered", i, lost) end
    for item in pairs(Q.got) do
      if not Q.put[item] then violation("queue %d: %s delivered although its put failed", i, item) end
    end
    if Q.q:len() ~= 0 then violation("queue %d: len %d after the drain", i, Q.q:len()) end
    local ok, e = pcall(Q.q.put, Q.q, "late")
    if ok or not tostring(e):find("closed queue", 1, true) then violation("put on closed queue %d: %s", i, tostring(e)) end
    if Q.q:try_put("late") ~= false then violation("try_put on closed queue %d did not return false", i) end
    if Q.q:get() ~= nil then violation("get on a closed, drained queue %d is not nil", i) end
  end
  pcall(dummy_task.result, dummy_task)
  log("%d tasks, %d actors, %d violations", #records, n_actors, #violations)
end

main()
if #violations > 0 then
  io.stderr:write(("api_fuzz seed %d: %d violation(s)\n"):format(seed, #violations))
  for i = 1, math.min(#violations, 10) do io.stderr:write(violations[i], "\n") end
  os.exit(1)
end
