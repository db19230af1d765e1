-- The Lua heap's size classes (runtime/alloc.c): blocks that grow and shrink across the
-- 1 KiB line between pooled blocks and malloc, in place within a class and moved between
-- classes, must keep their contents. Lua frees NULL vectors too (an empty function's code,
-- the first free of an unused array), which once read as a request for class -1.

-- strings and tables of every size around the line, built up and torn down
local keep = {}
for n = 1, 2100, 7 do
  local s = string.rep("x", n - 1) .. "!"
  local t = {}
  for i = 1, n // 8 do t[i] = i end
  keep[#keep + 1] = { s = s, t = t, n = n }
end
for _, k in ipairs(keep) do
  assert(#k.s == k.n and k.s:sub(-1) == "!", "a string lost its tail")
  for i = 1, k.n // 8 do assert(k.t[i] == i, "a table lost an item") end
  for i = #k.t, 1, -1 do k.t[i] = nil end -- shrinks at the next rehash
end
keep = nil
collectgarbage()

-- a coroutine's stack grows past 1 KiB (deep recursion) and is shrunk by the collector
local function depth(n) if n == 0 then return coroutine.yield(0) + 0 end return depth(n - 1) + 1 end
local co = coroutine.wrap(function() return depth(2000) end)
assert(co() == 0)
collectgarbage()
collectgarbage()
assert(co(5) == 2005, "a shrunk stack lost a frame")

-- the same inside tasks, with many of them alive at once
local tasks = {}
for i = 1, 200 do
  tasks[i] = async.spawn(function(k)
    local acc = {}
    for j = 1, k do acc[j] = string.rep("y", j) end
    async.sleep(0)
    collectgarbage("step")
    local total = 0
    for j = 1, k do total = total + #acc[j] end
    return total
  end, i)
end
local results = async.gather(tasks)
for i = 1, 200 do assert(results[i] == i * (i + 1) // 2, "task " .. i .. " lost data") end

-- empty functions and tables: vectors that were never allocated are freed as NULL
for _ = 1, 1000 do local f = load("") f() local t = {} t = nil end
collectgarbage()

-- past 8 MiB of small blocks the heap takes 2 MiB blocks from mmap: 40 MiB of strings across
-- them keep their contents, are freed, and their blocks serve new ones
for round = 1, 2 do
  local big = {}
  local pad = string.rep("z", 180)
  for i = 1, 200000 do big[i] = pad .. (i * round) end
  for i = 1, 200000, 997 do
    assert(big[i] == pad .. (i * round), "a string in a big heap changed")
  end
  big = nil
  collectgarbage()
end
