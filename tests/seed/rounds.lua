-- Planted bug of one task running ahead: two workers take turns over 6 rounds, and the bug
-- shows only when b is first in every round (one order in 64 per run under a uniform
-- shuffle; FIFO, and a batch reversed half the time as Trio does, hardly ever show it).
local round = {}
local function worker(name)
  for r = 1, 6 do
    if not round[r] then round[r] = name end
    async.sleep(0)
  end
end
async.gather({async.spawn(worker, "a"), async.spawn(worker, "b")})
if table.concat(round) == "bbbbbb" then error("b ran first in every round", 0) end
print("ok")
