-- W2 spawn: N tasks that each return immediately, then await them all.
-- Same shape as the asyncio peer (create_task x N, then gather) and the Node
-- peer (N async calls, then Promise.all): every task is alive at the peak.
-- usage: asyncrun w2_spawn.lua [N=1000000]
local N = tonumber(arg[1]) or 1000000
local spawn = async.spawn

local function task(i)
  return i
end

local tasks = {}
for i = 1, N do
  tasks[i] = spawn(task, i)
end
local results = async.gather(tasks)
local sum = 0
for i = 1, N do
  sum = sum + results[i]
end
assert(sum == N * (N + 1) // 2, "bad sum")
