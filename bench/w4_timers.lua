-- W4 timers: N tasks each sleep a duration then finish; await them all.
-- usage: asyncrun w4_timers.lua [N=100000] [MS=100] [random|fixed]
--   random: each sleeps uniform [0, MS] ms;  fixed: each sleeps exactly MS ms.
-- Same shape as the asyncio peer (create_task x N, then gather).
local N = tonumber(arg[1]) or 100000
local MS = tonumber(arg[2]) or 100
local FIXED = arg[3] == "fixed"
local sleep, spawn, random = async.sleep, async.spawn, math.random

local function sleeper(seconds)
  sleep(seconds)
end

local tasks = {}
for i = 1, N do
  tasks[i] = spawn(sleeper, (FIXED and MS or random() * MS) / 1000)
end
async.gather(tasks)
