-- A storm of 1,000 SIGUSR2 sent by a child shell (kill is its builtin) to an async.signal
-- listener: the process survives and counts what it saw. The kernel keeps one pending
-- instance of a standard signal, so deliveries may coalesce: at least one must be seen and
-- never more than were sent. Then N/10 signals one at a time, each awaited before the
-- next: those must all be seen, exactly.
-- usage: asyncrun signals.lua [N]
local C = dofile((arg[0]:match("^(.*/)") or "./") .. "common.lua")
local N = math.tointeger(tonumber(arg[1] or "1000"))
local l = async.signal("USR2")
local seen = 0
local listener = async.spawn(function()
  while true do
    l:wait()
    seen = seen + 1
  end
end)
-- some busy tasks too, so that signals land while tasks run and while the loop waits
local busy = {}
for i = 1, 10 do
  busy[i] = async.spawn(function()
    for _ = 1, 200 do async.sleep(0) end
  end)
end
local me = C.pid()
local script = ('i=0; while [ $i -lt %d ]; do kill -USR2 %d || exit 1; i=$((i+1)); done'):format(N, me)
local t0 = async.now()
local p = assert(async.exec({ "/bin/sh", "-c", script }))
local code = p:wait()
-- let the last deliveries arrive
local last, stable = -1, 0
while stable < 5 do
  async.sleep(0.02)
  if seen == last then stable = stable + 1 else stable = 0 end
  last = seen
end
async.gather(busy)
local storm_seen = seen
local elapsed = async.now() - t0

-- then one signal at a time, each seen before the next is sent: no coalescing is possible,
-- so every one must be counted exactly
local M = math.max(1, N // 10)
local acked = 0
for _ = 1, M do
  local before = seen
  local k = assert(async.exec({ "/bin/sh", "-c", "kill -USR2 " .. me }))
  k:wait()
  local deadline = async.now() + 2
  while seen == before and async.now() < deadline do async.sleep(0.001) end
  if seen == before + 1 then acked = acked + 1 end
end
listener:cancel()
l:close()
C.check(code == 0, "the sender exited %s", tostring(code))
C.check(storm_seen >= 1 and storm_seen <= N, "%d deliveries seen for %d sent", storm_seen, N)
C.check(acked == M, "%d of %d one-at-a-time signals seen exactly once", acked, M)
C.finish("signals", ("%d SIGUSR2 sent in a storm, %d deliveries seen (%.1f%%, the kernel coalesces) in %.2f s; %d of %d sent one at a time seen"):format(
  N, storm_seen, 100 * storm_seen / N, elapsed, acked, M))
