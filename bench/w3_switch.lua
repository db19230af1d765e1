-- W3 switch: two tasks ping-pong a value through two async.queue (one per
-- direction), N round trips = 2 task switches per round trip. Same shape as
-- the asyncio peer (two asyncio.Queue) and the Node peer (two promise channels).
-- usage: asyncrun w3_switch.lua [N=1000000]
local N = tonumber(arg[1]) or 1000000

local ping, pong = async.queue(), async.queue()

local echo = async.spawn(function()
  for _ = 1, N do
    pong:put(ping:get())
  end
end)

for i = 1, N do
  ping:put(i)
  assert(pong:get() == i, "bad value")
end
echo:await()
