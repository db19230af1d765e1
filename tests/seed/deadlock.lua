-- Planted lock-order inversion: a takes l1 then l2, b takes l2 then l1. b starts one step
-- later, so in FIFO order a holds both and is done before b starts; b running first in
-- the second batch deadlocks them (status 3).
local l1, l2 = async.lock(), async.lock()
local a = async.spawn(function()
  local g1 <close> = l1:acquire()
  async.sleep(0)
  local g2 <close> = l2:acquire()
end)
local b = async.spawn(function()
  async.sleep(0)
  local g2 <close> = l2:acquire()
  local g1 <close> = l1:acquire()
end)
async.gather({a, b})
print("ok")
