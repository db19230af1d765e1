-- 10,000 child processes (async.exec {"true"}), 100 at a time under a semaphore: every one
-- exits 0, and no child is left, zombie or not, at the end.
-- usage: asyncrun procs.lua [N] [PARALLEL]
local C = dofile((arg[0]:match("^(.*/)") or "./") .. "common.lua")
local N = math.tointeger(tonumber(arg[1] or "10000"))
local PAR = math.tointeger(tonumber(arg[2] or "100"))
local sem = async.semaphore(PAR)
local ok_exits, bad, running, peak = 0, {}, 0, 0
local t0 = async.now()
local tasks = {}
for i = 1, N do
  tasks[i] = async.spawn(function()
    local _ <close> = sem:acquire()
    running = running + 1
    if running > peak then peak = running end
    local p, err = async.exec({ "true" })
    if not p then
      bad[#bad + 1] = "exec: " .. tostring(err)
    else
      local code, sig = p:wait()
      if code == 0 then ok_exits = ok_exits + 1 else bad[#bad + 1] = ("exit %s %s"):format(code, sig) end
    end
    running = running - 1
  end)
end
async.gather(tasks)
local elapsed = async.now() - t0
C.check(ok_exits == N, "%d of %d children exited 0 (%s)", ok_exits, N, table.concat(bad, ", ", 1, math.min(#bad, 5)))
C.check(peak <= PAR, "%d children at once, limit %d", peak, PAR)
-- what is left under this process: ps itself only (no zombie, no straggler)
local me = C.pid()
local out = async.capture({ "ps", "-o", "pid=,stat=,comm=", "--ppid", tostring(me) })
local left, zombies = {}, 0
for line in (out or ""):gmatch("[^\n]+") do
  local pid, stat, comm = line:match("^%s*(%d+)%s+(%S+)%s+(.*)$")
  if pid and comm ~= "ps" then
    left[#left + 1] = line
    if stat:find("Z", 1, true) then zombies = zombies + 1 end
  end
end
C.check(out ~= nil, "ps could not run")
C.check(#left == 0, "%d children left (%d zombies): %s", #left, zombies, table.concat(left, "; "))
C.finish("procs", ("%d children, %d at most at once, all exited 0 in %.2f s (%.0f/s), %d left"):format(
  ok_exits, peak, elapsed, ok_exits / elapsed, #left))
