-- 1,000,000 concurrent tasks that each sleep 0.5 s and finish.
-- usage: asyncrun sleepers.lua [N]
local C = dofile((arg[0]:match("^(.*/)") or "./") .. "common.lua")
local N = math.tointeger(tonumber(arg[1] or "1000000"))
local done, peak_live = 0, 0
local function sleeper()
  async.sleep(0.5)
  done = done + 1
end
local t0 = async.now()
for _ = 1, N do async.spawn(sleeper) end
local t_spawn = async.now() - t0
peak_live = #async.tasks()
local deadline = t0 + 120
while done < N and async.now() < deadline do async.sleep(0.05) end
local elapsed = async.now() - t0
C.check(done == N, "%d of %d sleepers finished", done, N)
C.check(peak_live == N + 1, "%d live tasks after spawning %d (plus main)", peak_live, N)
C.check(elapsed >= 0.5, "all done after %.3f s, before the 0.5 s sleep could end", elapsed)
local left = #async.tasks()
C.check(left == 1, "%d live tasks at the end, expected only main", left)
C.finish("sleepers", ("%d tasks spawned in %.2f s, %d finished after %.2f s"):format(N, t_spawn, done, elapsed))
