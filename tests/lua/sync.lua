-- async.event, async.lock, async.semaphore, async.future (SPEC §3 "Synchronisation"; the
-- stderr side of "a failed future nobody awaited is not reported" is in tests/faketime.bats)
local T = require "testlib"

local kind, settle = T.kind, T.settle

-- event --------------------------------------------------------------------------------

T.case("event: set, clear, is_set", function()
  local ev = async.event()
  T.eq(ev:is_set(), false, "a new event is clear")
  ev:set()
  T.eq(ev:is_set(), true, "after set")
  ev:set()
  T.eq(ev:is_set(), true, "set twice")
  ev:clear()
  T.eq(ev:is_set(), false, "after clear")
end)

T.case("event: wait on a set event returns at once", function()
  local ev = async.event()
  ev:set()
  local t0 = async.now()
  for _ = 1, 100 do ev:wait() end
  T.ok(async.now() - t0 < 0.5, "at once")
  -- and it stays set for waiters to come
  T.eq(ev:is_set(), true, "still set")
end)

T.case("event: wait blocks until set; set wakes every waiter, in arrival order", function()
  local ev = async.event()
  local woke = {}
  local tasks = {}
  for i = 1, 5 do
    tasks[i] = async.spawn(function() ev:wait(); woke[#woke + 1] = i end)
    async.sleep(0)
  end
  async.sleep(0.02)
  T.eq(#woke, 0, "nobody woke before set")
  for i = 1, 5 do T.eq(tasks[i]:status(), "pending", "waiter " .. i .. " waits") end
  ev:set()
  async.gather(tasks)
  T.eq(table.concat(woke, ","), "1,2,3,4,5", "all woke, FIFO")
end)

T.case("event: wait blocks again after clear", function()
  local ev = async.event()
  ev:set()
  ev:clear()
  local err = T.fails(async.timeout, 0.02, ev.wait, ev)
  T.ok(async.is_timeout(err), "still waiting at the deadline: " .. kind(err))
end)

T.case("event: a cancelled waiter leaves the others intact", function()
  local ev = async.event()
  local woke = {}
  local tasks = {}
  for i = 1, 3 do
    tasks[i] = async.spawn(function() ev:wait(); woke[#woke + 1] = i end)
    async.sleep(0)
  end
  tasks[2]:cancel()
  local err = T.fails(tasks[2].await, tasks[2])
  T.ok(async.is_cancelled(err), "the middle waiter was cancelled")
  ev:set()
  tasks[1]:await()
  tasks[3]:await()
  T.eq(table.concat(woke, ","), "1,3", "the others woke")
  -- and the event still works for new waiters
  ev:clear()
  local late = async.spawn(function() ev:wait(); return "late" end)
  settle()
  ev:set()
  T.eq(late:await(), "late", "a new waiter")
end)

T.case("event: a waiter woken then cancelled before it runs completes its wait", function()
  local ev = async.event()
  local log = {}
  local t = async.spawn(function()
    ev:wait()
    log[#log + 1] = "waited"
    async.sleep(0)
    log[#log + 1] = "unreachable"
  end)
  settle()
  ev:set()
  t:cancel()
  T.ok(async.is_cancelled(T.fails(t.await, t)), "cancelled")
  T.eq(table.concat(log, ","), "waited", "the wait returned, the next suspension raised")
end)

-- lock ---------------------------------------------------------------------------------

T.case("lock: acquire returns a to-be-closed guard", function()
  local lock = async.lock()
  T.eq(lock:locked(), false, "a new lock is free")
  do
    local _ <close> = lock:acquire()
    T.eq(lock:locked(), true, "held in the block")
  end
  T.eq(lock:locked(), false, "released when the guard closed")
  -- acquire/release by hand
  lock:acquire()
  T.eq(lock:locked(), true, "held")
  lock:release()
  T.eq(lock:locked(), false, "released")
end)

T.case("lock: releasing an unlocked lock raises", function()
  local lock = async.lock()
  T.fails(function() lock:release() end)
  lock:acquire()
  lock:release()
  T.fails(function() lock:release() end)
end)

T.case("lock: mutual exclusion across tasks that sleep in the critical section", function()
  local lock = async.lock()
  local inside, max_inside, entries = 0, 0, 0
  local tasks = {}
  for i = 1, 8 do
    tasks[i] = async.spawn(function()
      for _ = 1, 3 do
        local _ <close> = lock:acquire()
        inside = inside + 1
        entries = entries + 1
        if inside > max_inside then max_inside = inside end
        async.sleep(0.001)
        async.sleep(0)
        inside = inside - 1
      end
    end)
  end
  async.gather(tasks)
  T.eq(max_inside, 1, "never two holders")
  T.eq(entries, 24, "every entry happened")
  T.eq(lock:locked(), false, "free at the end")
end)

T.case("lock: waiters acquire in arrival order", function()
  local lock = async.lock()
  local order = {}
  lock:acquire()
  local tasks = {}
  for _, i in ipairs({ 3, 1, 4, 5, 2 }) do
    tasks[#tasks + 1] = async.spawn(function()
      local _ <close> = lock:acquire()
      order[#order + 1] = i
      async.sleep(0)
    end)
    async.sleep(0)                       -- so each is parked before the next arrives
  end
  lock:release()
  async.gather(tasks)
  T.eq(table.concat(order, ","), "3,1,4,5,2", "FIFO")
end)

T.case("lock: a newcomer does not jump ahead of parked waiters", function()
  local lock = async.lock()
  local order = {}
  lock:acquire()
  local waiter = async.spawn(function()
    local _ <close> = lock:acquire()
    order[#order + 1] = "waiter"
  end)
  settle()
  lock:release()                        -- handed to the waiter, which has not run yet
  lock:acquire()                        -- main must queue behind it
  order[#order + 1] = "main"
  lock:release()
  waiter:await()
  T.eq(table.concat(order, ","), "waiter,main", "order")
end)

T.case("lock: a waiter cancelled in the middle of the queue is skipped", function()
  local lock = async.lock()
  local order = {}
  lock:acquire()
  local tasks = {}
  for i = 1, 4 do
    tasks[i] = async.spawn(function()
      local _ <close> = lock:acquire()
      order[#order + 1] = i
      async.sleep(0.001)
    end)
    async.sleep(0)
  end
  tasks[2]:cancel()
  T.ok(async.is_cancelled(T.fails(tasks[2].await, tasks[2])), "cancelled")
  lock:release()
  for _, i in ipairs({ 1, 3, 4 }) do tasks[i]:await() end
  T.eq(table.concat(order, ","), "1,3,4", "the others got it, in order")
  T.eq(lock:locked(), false, "free at the end")
end)

T.case("lock: a waiter handed the lock and cancelled before it runs releases it", function()
  local lock = async.lock()
  local log = {}
  lock:acquire()
  local a = async.spawn(function()
    local _ <close> = lock:acquire()
    log[#log + 1] = "a acquired"
    async.sleep(0)                       -- raises the cancel; the guard releases
    log[#log + 1] = "unreachable"
  end)
  local b = async.spawn(function()
    local _ <close> = lock:acquire()
    log[#log + 1] = "b acquired"
  end)
  settle()
  lock:release()                        -- handed to a
  a:cancel()
  T.ok(async.is_cancelled(T.fails(a.await, a)), "a cancelled")
  b:await()
  T.eq(table.concat(log, ","), "a acquired,b acquired", "the lock went on to b")
  T.eq(lock:locked(), false, "free")
end)

T.case("lock: a waiter handed the lock after its deadline passed keeps it", function()
  local lock = async.lock()
  lock:acquire()
  local w = async.spawn(function()
    local ok = pcall(async.timeout, 0.01, function()
      local _ <close> = lock:acquire()
      return "held"
    end)
    return ok
  end)
  settle()
  local t0 = async.now()
  repeat until async.now() - t0 >= 0.03   -- busy: the deadline passes, its timer cannot fire
  lock:release()                         -- handed to w
  T.eq(w:await(), true, "the acquire completed inside the timeout")
  T.eq(lock:locked(), false, "and its guard released the lock")
end)

T.case("lock: no lock is held by a dead task", function()
  local lock = async.lock()
  local t = async.spawn(function()
    local _ <close> = lock:acquire()
    async.sleep(0.01)
    error("holder died")
  end)
  T.raises("holder died", t.await, t)
  T.eq(lock:locked(), false, "released by the guard")
  local c = async.spawn(function()
    local _ <close> = lock:acquire()
    async.sleep(10)
  end)
  async.sleep(0.01)
  c:cancel()
  pcall(c.await, c)
  T.eq(lock:locked(), false, "released when the holder was cancelled")
  local t0 = async.now()
  local _ <close> = lock:acquire()
  T.ok(async.now() - t0 < 0.1, "acquired at once")
end)

T.case("lock: acquire suspended in a timeout", function()
  local lock = async.lock()
  lock:acquire()
  local err = T.fails(async.timeout, 0.02, lock.acquire, lock)
  T.ok(async.is_timeout(err), "Timeout: " .. kind(err))
  lock:release()
  T.eq(lock:locked(), false, "the timed-out waiter did not take it")
end)

-- semaphore ----------------------------------------------------------------------------

T.case("semaphore(3) never lets a fourth holder in", function()
  local sem = async.semaphore(3)
  T.eq(sem:value(), 3, "value of a new semaphore")
  local inside, max_inside, entries = 0, 0, 0
  local tasks = {}
  for i = 1, 20 do
    tasks[i] = async.spawn(function()
      local _ <close> = sem:acquire()
      inside = inside + 1
      entries = entries + 1
      if inside > max_inside then max_inside = inside end
      async.sleep(0.002 * (i % 4))
      async.sleep(0)
      inside = inside - 1
    end)
  end
  async.gather(tasks)
  T.eq(max_inside, 3, "exactly 3 at most")
  T.eq(entries, 20, "all entered")
  T.eq(sem:value(), 3, "value back to 3")
end)

T.case("semaphore: value() counts down and up", function()
  local sem = async.semaphore(2)
  do
    local _ <close> = sem:acquire()
    T.eq(sem:value(), 1, "after one acquire")
    do
      local _ <close> = sem:acquire()
      T.eq(sem:value(), 0, "after two")
    end
    T.eq(sem:value(), 1, "after one guard closed")
  end
  T.eq(sem:value(), 2, "after both closed")
  sem:acquire()
  T.eq(sem:value(), 1, "acquired without a guard")
  sem:release()                          -- release by hand
  T.eq(sem:value(), 2, "released by hand")
end)

T.case("semaphore: bad counts raise", function()
  T.raises("bad argument #1 to 'semaphore'", function() async.semaphore(-1) end)
  T.raises("bad argument #1 to 'semaphore'", function() async.semaphore(1.5) end)
  T.raises("bad argument #1 to 'semaphore'", function() async.semaphore("x") end)
  T.eq(async.semaphore(0):value(), 0, "semaphore(0) is allowed")
end)

T.case("semaphore(0): acquire waits for a release", function()
  local sem = async.semaphore(0)
  local t = async.spawn(function() local _ <close> = sem:acquire(); return "got" end)
  async.sleep(0.01)
  T.eq(t:status(), "pending", "waiting")
  sem:release()
  T.eq(t:await(), "got", "acquired after release")
  T.eq(sem:value(), 1, "the permit came back")
end)

T.case("semaphore: FIFO", function()
  local sem = async.semaphore(1)
  local order = {}
  sem:acquire()
  local tasks = {}
  for _, i in ipairs({ 2, 5, 1, 4, 3 }) do
    tasks[#tasks + 1] = async.spawn(function()
      local _ <close> = sem:acquire()
      order[#order + 1] = i
      async.sleep(0)
    end)
    async.sleep(0)
  end
  sem:release()
  async.gather(tasks)
  T.eq(table.concat(order, ","), "2,5,1,4,3", "arrival order")
end)

T.case("semaphore: a cancelled waiter does not leak a permit", function()
  local sem = async.semaphore(2)
  sem:acquire()
  sem:acquire()
  local got = {}
  local tasks = {}
  for i = 1, 4 do
    tasks[i] = async.spawn(function()
      local _ <close> = sem:acquire()
      got[#got + 1] = i
      async.sleep(0.001)
    end)
    async.sleep(0)
  end
  tasks[2]:cancel()
  pcall(tasks[2].await, tasks[2])
  -- one handed a permit and cancelled before it ran
  sem:release()                          -- handed to task 1
  tasks[1]:cancel()
  pcall(tasks[1].await, tasks[1])
  sem:release()
  tasks[3]:await()
  tasks[4]:await()
  T.eq(table.concat(got, ","), "1,3,4", "1 completed its acquire, 2 skipped, 3 and 4 served")
  T.eq(sem:value(), 2, "value back to 2")
end)

-- future -------------------------------------------------------------------------------

T.case("future: set then await returns every value", function()
  local f = async.future()
  T.eq(f:done(), false, "a new future is not done")
  f:set("a", nil, 3)
  T.eq(f:done(), true, "done after set")
  T.values(T.pack(f:await()), { n = 3, "a", nil, 3 }, "values")
  T.values(T.pack(f:await()), { n = 3, "a", nil, 3 }, "again")
  local g = async.future()
  g:set()
  T.values(T.pack(g:await()), { n = 0 }, "no values")
end)

T.case("future: several awaiters all get the values", function()
  local f = async.future()
  local tasks = {}
  for i = 1, 5 do
    tasks[i] = async.spawn(function() local a, b = f:await(); return a .. b .. i end)
  end
  async.sleep(0.01)
  for i = 1, 5 do T.eq(tasks[i]:status(), "pending", "awaiter " .. i .. " waits") end
  f:set("x", "y")
  local r = async.gather(tasks)
  T.eq(table.concat(r, ","), "xy1,xy2,xy3,xy4,xy5", "every awaiter")
end)

T.case("future: setting a finished future raises", function()
  local f = async.future()
  f:set(1)
  T.fails(function() f:set(2) end)
  T.fails(function() f:fail("x") end)
  T.eq(f:await(), 1, "the first value stays")
  local g = async.future()
  g:fail("first")
  T.fails(function() g:set(1) end)
  T.fails(function() g:fail("second") end)
  T.raises("first", g.await, g)
end)

T.case("future: fail then await raises the error, for every awaiter", function()
  local e = {}
  local f = async.future()
  local tasks = {}
  for i = 1, 3 do
    tasks[i] = async.spawn(function()
      local ok, err = pcall(f.await, f)
      return (not ok) and rawequal(err, e)
    end)
  end
  async.sleep(0.01)
  f:fail(e)
  T.eq(f:done(), true, "done after fail")
  for i = 1, 3 do T.eq(tasks[i]:await(), true, "awaiter " .. i .. " raised the error") end
  T.same(T.fails(f.await, f), e, "await after the fact")
end)

T.case("future: a cancelled awaiter leaves the others intact", function()
  local f = async.future()
  local a = async.spawn(function() return f:await() end)
  local b = async.spawn(function() return f:await() end)
  local c = async.spawn(function() return f:await() end)
  settle()
  b:cancel()
  T.ok(async.is_cancelled(T.fails(b.await, b)), "b cancelled")
  f:set("v")
  T.eq(a:await(), "v", "a")
  T.eq(c:await(), "v", "c")
end)

T.case("future: await in a timeout", function()
  local f = async.future()
  T.ok(async.is_timeout(T.fails(async.timeout, 0.01, f.await, f)), "Timeout")
  f:set("later")
  T.eq(f:await(), "later", "still settable")
end)

T.finish()
