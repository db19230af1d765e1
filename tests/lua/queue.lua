-- async.queue (SPEC §3 "Synchronisation")
local T = require "testlib"

local kind, settle = T.kind, T.settle

T.case("FIFO, len()", function()
  local q = async.queue()
  T.eq(q:len(), 0, "a new queue is empty")
  for i = 1, 5 do q:put(i) end
  T.eq(q:len(), 5, "len after 5 puts")
  local got = {}
  for _ = 1, 5 do got[#got + 1] = q:get() end
  T.eq(table.concat(got, ","), "1,2,3,4,5", "FIFO")
  T.eq(q:len(), 0, "empty again")
  -- any non-nil value, false included
  local t = {}
  q:put(false)
  q:put(t)
  T.eq(q:get(), false, "false goes through")
  T.same(q:get(), t, "the very table")
end)

T.case("get waits while empty", function()
  local q = async.queue()
  local getter = async.spawn(function() return q:get() end)
  async.sleep(0.02)
  T.eq(getter:status(), "pending", "the getter waits")
  q:put("x")
  T.eq(getter:await(), "x", "it got the item")
  T.eq(q:len(), 0, "consumed")
end)

T.case("several getters are served in arrival order", function()
  local q = async.queue()
  local tasks = {}
  for i = 1, 4 do
    tasks[i] = async.spawn(function() return i .. ":" .. q:get() end)
    async.sleep(0)
  end
  for _, v in ipairs({ "a", "b", "c", "d" }) do q:put(v) end
  local r = async.gather(tasks)
  T.eq(table.concat(r, ","), "1:a,2:b,3:c,4:d", "FIFO getters")
end)

T.case("a bounded queue: put waits while full", function()
  local q = async.queue(2)
  q:put(1)
  q:put(2)
  T.eq(q:len(), 2, "full")
  local putter = async.spawn(function() q:put(3); return "put done" end)
  async.sleep(0.02)
  T.eq(putter:status(), "pending", "the putter waits while full")
  T.eq(q:len(), 2, "still 2 items")
  T.eq(q:get(), 1, "get 1")
  T.eq(putter:await(), "put done", "the putter went on")
  T.eq(q:len(), 2, "its item took the free place")
  T.eq(q:get(), 2, "get 2")
  T.eq(q:get(), 3, "get 3 (the parked putter's item, in order)")
  T.eq(q:len(), 0, "empty")
end)

T.case("parked putters deliver in arrival order", function()
  local q = async.queue(1)
  q:put("first")
  local tasks = {}
  for i = 1, 4 do
    tasks[i] = async.spawn(function() q:put("p" .. i) end)
    async.sleep(0)
  end
  local got = {}
  for _ = 1, 5 do got[#got + 1] = q:get() end
  async.gather(tasks)
  T.eq(table.concat(got, ","), "first,p1,p2,p3,p4", "order")
end)

T.case("try_put and try_get", function()
  local q = async.queue(2)
  T.eq(q:try_get(), nil, "try_get on empty")
  T.eq(q:try_put("a"), true, "try_put a")
  T.eq(q:try_put("b"), true, "try_put b")
  T.eq(q:try_put("c"), false, "try_put on a full queue")
  T.eq(q:len(), 2, "len")
  T.eq(q:try_get(), "a", "try_get a")
  T.eq(q:try_get(), "b", "try_get b")
  T.eq(q:try_get(), nil, "empty again")
  -- try_put hands the item to a waiting getter
  local getter = async.spawn(function() return q:get() end)
  settle()
  T.eq(q:try_put("direct"), true, "try_put with a waiting getter")
  T.eq(getter:await(), "direct", "the getter got it")
end)

T.case("maxsize nil or 0 means unbounded: put never waits", function()
  for _, q in ipairs({ async.queue(), async.queue(0) }) do
    async.timeout(0, function()         -- any suspension would raise Timeout
      for i = 1, 1000 do q:put(i) end
    end)
    T.eq(q:len(), 1000, "1000 items")
    T.eq(q:try_put(1001), true, "try_put still accepted")
    T.eq(q:get(), 1, "first item")
  end
end)

T.case("put(nil) raises", function()
  local q = async.queue()
  T.raises("bad argument #1 to 'put'", function() q:put(nil) end)
  T.raises("bad argument #1 to 'put'", function() q:put() end)
  T.fails(function() q:try_put(nil) end)
  T.eq(q:len(), 0, "nothing was added")
end)

T.case("close: items put before still delivered, then get returns nil", function()
  local q = async.queue()
  q:put(1)
  q:put(2)
  q:close()
  T.eq(q:get(), 1, "first item after close")
  T.eq(q:get(), 2, "second item after close")
  local t0 = async.now()
  T.eq(q:get(), nil, "get on a closed empty queue returns nil")
  T.eq(q:get(), nil, "again")
  T.ok(async.now() - t0 < 0.1, "at once")
  T.eq(q:try_get(), nil, "try_get")
end)

T.case("close: put raises, try_put returns false", function()
  local q = async.queue()
  q:close()
  T.fails(function() q:put(1) end)
  T.eq(q:try_put(1), false, "try_put on a closed queue")
  T.eq(q:len(), 0, "nothing added")
end)

T.case("close wakes waiting getters with nil", function()
  local q = async.queue()
  local tasks = {}
  for i = 1, 3 do tasks[i] = async.spawn(function() return q:get() end) end
  settle()
  q:close()
  for i = 1, 3 do
    T.values(T.pack(tasks[i]:await()), { n = 1, nil }, "getter " .. i .. " got nil")
  end
end)

T.case("close: a putter blocked when it closes raises", function()
  local q = async.queue(1)
  q:put("kept")
  local putter = async.spawn(function()
    local ok, e = pcall(q.put, q, "blocked")
    return ok, e
  end)
  settle()
  T.eq(putter:status(), "pending", "blocked")
  q:close()
  local ok, e = putter:await()
  T.eq(ok, false, "put raised")
  T.eq(async.is_cancelled(e), false, "an error, not a cancellation")
  T.eq(q:get(), "kept", "the item put before close is delivered")
  T.eq(q:get(), nil, "the blocked item was not added")
end)

T.case("iter() ends when the queue is closed and drained", function()
  local q = async.queue(3)
  local producer = async.spawn(function()
    for i = 1, 10 do q:put(i); if i % 4 == 0 then async.sleep(0.001) end end
    q:close()
  end)
  local got = {}
  for v in q:iter() do got[#got + 1] = v end
  T.eq(table.concat(got, ","), "1,2,3,4,5,6,7,8,9,10", "every item, in order")
  producer:await()
end)

T.case("50 producers x 20 items through queue(5) to 10 consumers: each exactly once", function()
  local q = async.queue(5)
  local producers, consumers = {}, {}
  local seen, count, maxlen = {}, 0, 0
  for p = 1, 50 do
    producers[p] = async.spawn(function()
      for i = 1, 20 do
        q:put(p * 1000 + i)
        if q:len() > maxlen then maxlen = q:len() end
        if i % 7 == 0 then async.sleep(0) end
      end
    end)
  end
  for c = 1, 10 do
    consumers[c] = async.spawn(function()
      local n = 0
      for v in q:iter() do
        seen[v] = (seen[v] or 0) + 1
        count = count + 1
        n = n + 1
        if n % 3 == 0 then async.sleep(0) end
      end
      return n
    end)
  end
  async.gather(producers)
  q:close()
  local per = async.gather(consumers)
  local total = 0
  for c = 1, 10 do total = total + per[c] end
  T.eq(count, 1000, "1000 items consumed")
  T.eq(total, 1000, "consumers' counts add up")
  for p = 1, 50 do
    for i = 1, 20 do
      local v = p * 1000 + i
      if seen[v] ~= 1 then error("item " .. v .. " seen " .. tostring(seen[v]) .. " times") end
    end
  end
  T.ok(maxlen <= 5, "never more than maxsize items (" .. maxlen .. ")")
end)

T.case("a getter cancelled while waiting does not consume an item", function()
  local q = async.queue()
  local a = async.spawn(function() return q:get() end)
  local b = async.spawn(function() return q:get() end)
  settle()
  a:cancel()
  T.ok(async.is_cancelled(T.fails(a.await, a)), "a cancelled")
  q:put("x")
  T.eq(b:await(), "x", "the next getter got it")
  -- with no other getter, the item stays in the queue
  local c = async.spawn(function() return q:get() end)
  settle()
  c:cancel()
  pcall(c.await, c)
  q:put("y")
  T.eq(q:len(), 1, "the item is in the queue")
  T.eq(q:try_get(), "y", "and can be taken")
end)

T.case("a getter handed an item and cancelled before it runs keeps the item", function()
  local q = async.queue()
  local log = {}
  local a = async.spawn(function()
    local v = q:get()
    log[#log + 1] = "got " .. tostring(v)
    async.sleep(0)
    log[#log + 1] = "unreachable"
  end)
  settle()
  q:put("handed")
  a:cancel()
  T.ok(async.is_cancelled(T.fails(a.await, a)), "cancelled")
  T.eq(table.concat(log, ","), "got handed", "the get completed; the next suspension raised")
  T.eq(q:len(), 0, "the item was not put back nor duplicated")
end)

T.case("a getter handed an item after its deadline passed, before the timer fired, keeps it", function()
  local q = async.queue()
  local g = async.spawn(function() return pcall(async.timeout, 0.01, q.get, q) end)
  settle()
  local t0 = async.now()
  repeat until async.now() - t0 >= 0.03   -- busy: the deadline passes, its timer cannot fire
  q:put("handed")
  local ok, v = g:await()
  T.eq(ok, true, "the get completed")
  T.eq(v, "handed", "with the item")
  T.eq(q:len(), 0, "the item was not put back nor duplicated")
end)

T.case("a putter cancelled while blocked does not add its item", function()
  local q = async.queue(1)
  q:put("a")
  local p = async.spawn(function() q:put("b") end)
  settle()
  p:cancel()
  T.ok(async.is_cancelled(T.fails(p.await, p)), "cancelled")
  T.eq(q:get(), "a", "a")
  T.eq(q:len(), 0, "b was not added")
  T.eq(q:try_get(), nil, "nothing more")
  T.eq(q:try_put("c"), true, "room for another")
end)

T.case("get in a timeout", function()
  local q = async.queue()
  local err = T.fails(async.timeout, 0.02, q.get, q)
  T.ok(async.is_timeout(err), "Timeout: " .. kind(err))
  q:put(1)
  T.eq(q:len(), 1, "the timed-out getter took nothing")
end)

T.case("100,000 hand-offs through queue(1) between two tasks", function()
  local q = async.queue(1)
  local N = 100000
  local producer = async.spawn(function()
    for i = 1, N do q:put(i) end
    q:close()
  end)
  local consumer = async.spawn(function()
    local sum, n, last, ordered = 0, 0, 0, true
    for v in q:iter() do
      sum = sum + v
      n = n + 1
      if v ~= last + 1 then ordered = false end
      last = v
    end
    return sum, n, ordered
  end)
  local t0 = async.now()
  producer:await()
  local sum, n, ordered = consumer:await()
  T.eq(n, N, "count")
  T.eq(sum, N * (N + 1) // 2, "sum")
  T.eq(ordered, true, "in order")
  T.ok(async.now() - t0 < 1.5, "reasonable time (" .. (async.now() - t0) .. ")")
end)

T.finish()
