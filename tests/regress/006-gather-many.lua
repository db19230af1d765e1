-- gather of a long list whose tasks are ready to run lets them run once before linking a
-- waiter to each (lua/ltask.c, WAIT_DEFER_MIN): results, failures and cancellation must be
-- what they are for a short list.

local function spawn_n(n, fn)
  local ts = {}
  for i = 1, n do ts[i] = async.spawn(fn, i) end
  return ts
end

-- all finish during that pass
local r = async.gather(spawn_n(200, function(i) return i * 2 end))
assert(#r == 200)
for i = 1, 200 do assert(r[i] == i * 2, "result " .. i) end

-- one fails during that pass: its error is gather's, the others are done
local ts = spawn_n(200, function(i) if i == 150 then error("boom " .. i, 0) end return i end)
local ok, err = pcall(async.gather, ts)
assert(not ok and err == "boom 150", tostring(err))
assert(ts[149]:status() == "done" and ts[150]:status() == "failed")

-- half of them still sleep after the pass: gather waits for those as usual
r = async.gather(spawn_n(200, function(i)
  if i % 2 == 0 then async.sleep(0.02) end
  return -i
end))
for i = 1, 200 do assert(r[i] == -i, "sleeper result " .. i) end

-- a failure after the pass cancels the ones still sleeping
ts = spawn_n(100, function(i)
  if i == 7 then async.sleep(0.01) error("late", 0) end
  async.sleep(10)
end)
local t0 = async.now()
ok, err = pcall(async.gather, ts)
assert(not ok and err == "late", tostring(err))
assert(async.now() - t0 < 5, "gather waited for the sleepers")
assert(ts[1]:status() == "cancelled" and ts[7]:status() == "failed")

-- the gathering task cancelled, during the pass or after it: the children go too
for _, delay in ipairs({ 0, 0.01 }) do
  local children
  local g = async.spawn(function()
    children = spawn_n(100, function() async.sleep(10) end)
    return async.gather(children)
  end)
  async.sleep(delay) -- 0: g is in the pass when it is cancelled
  g:cancel()
  local gok = pcall(g.await, g)
  assert(not gok and g:status() == "cancelled", g:status())
  for i = 1, 100 do assert(children[i]:status() == "cancelled", "child " .. i) end
end
