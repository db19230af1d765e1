-- Planted bug of one task running ahead: two workers react to the same clock tick over 6
-- rounds, and the bug shows only when b is first at every tick (one order in 64 per run
-- under a uniform shuffle; FIFO, and a batch reversed half the time as Trio does, hardly
-- ever show it). (With sleep(0) instead of the ticks, the order of the first round would
-- hold for all: sleep(0) lets every task ready before it run first, under --seed too.)
local ROUNDS = 6
local round, ticks = {}, {}
for r = 1, ROUNDS do ticks[r] = async.event() end
local function worker(name)
  for r = 1, ROUNDS do
    ticks[r]:wait()
    if not round[r] then round[r] = name end
  end
end
local a, b = async.spawn(worker, "a"), async.spawn(worker, "b")
for r = 1, ROUNDS do
  async.sleep(0.1)
  ticks[r]:set() -- wakes both, in one batch
end
async.gather({a, b})
if table.concat(round) == string.rep("b", ROUNDS) then error("b ran first at every tick", 0) end
print("ok")
