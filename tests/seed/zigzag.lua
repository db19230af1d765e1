-- Planted bug that needs the lead to change twice: at three clock ticks, b reacts first,
-- then a, then b (one order in 8 under a uniform shuffle; a schedule that keeps one task
-- ahead misses it).
local round, ticks = {}, {}
for r = 1, 3 do ticks[r] = async.event() end
local function worker(name)
  for r = 1, 3 do
    ticks[r]:wait()
    if not round[r] then round[r] = name end
  end
end
local a, b = async.spawn(worker, "a"), async.spawn(worker, "b")
for r = 1, 3 do
  async.sleep(0.1)
  ticks[r]:set() -- wakes both, in one batch
end
async.gather({a, b})
if table.concat(round) == "bab" then error("the lead changed twice: b, a, b", 0) end
print("ok")
