-- Planted order bug of depth 1: b assumes that a ran first. FIFO runs a first, always.
local a_done = false
local a = async.spawn(function() a_done = true end)
local b = async.spawn(function() assert(a_done, "b ran before a") end)
async.gather({a, b})
print("ok")
