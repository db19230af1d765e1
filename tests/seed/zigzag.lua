-- Planted bug that needs the lead to change twice: b first in rounds 1 and 3, a in round 2
-- (one order in 8 under a uniform shuffle; a schedule that keeps one task ahead misses it).
local round = {}
local function worker(name)
  for r = 1, 3 do
    if not round[r] then round[r] = name end
    async.sleep(0)
  end
end
async.gather({async.spawn(worker, "a"), async.spawn(worker, "b")})
if table.concat(round) == "bab" then error("the lead changed twice: b, a, b", 0) end
print("ok")
