-- 10,000 child processes, 64 at a time under a semaphore, each exiting with its own status
-- (i % 256) and every fourth one captured (its output checked): every status right, no
-- descriptor left open (/proc/self/fd counted before and after), RSS bounded, and no child
-- left, zombie or not, at the end. run.sh runs it with pidfds and with ASYNCRUN_NO_PIDFD=1.
-- usage: asyncrun procs.lua [N] [PARALLEL]
local C = dofile((arg[0]:match("^(.*/)") or "./") .. "common.lua")
local N = math.tointeger(tonumber(arg[1] or "10000"))
local PAR = math.tointeger(tonumber(arg[2] or "64"))
local RSS_LIMIT_KB = tonumber(os.getenv("PROCS_RSS_LIMIT_KB")) or 64 * 1024

local function open_fds() -- io.popen's pipe counts before and after alike
  local f = assert(io.popen("ls /proc/" .. C.pid() .. "/fd"))
  local out = f:read("a")
  f:close()
  return select(2, out:gsub("\n", ""))
end

local fds_before = open_fds()
local sem = async.semaphore(PAR)
local right, bad, running, peak = 0, {}, 0, 0
local t0 = async.now()
local tasks = {}
for i = 1, N do
  tasks[i] = async.spawn(function()
    local _ <close> = sem:acquire()
    running = running + 1
    if running > peak then peak = running end
    local want = i % 256
    if i % 4 == 0 then
      local out, _, code = async.capture({ "sh", "-c", "echo " .. i .. "; exit " .. want })
      if out == i .. "\n" and code == want then right = right + 1
      else bad[#bad + 1] = ("capture %d: %q %s"):format(i, out, code) end
    else
      local p, err = async.exec({ "sh", "-c", "exit " .. want })
      if not p then
        bad[#bad + 1] = "exec: " .. tostring(err)
      else
        local code, sig = p:wait()
        if code == want then right = right + 1 else bad[#bad + 1] = ("exit %s %s"):format(code, sig) end
      end
    end
    running = running - 1
  end)
end
async.gather(tasks)
local elapsed = async.now() - t0
C.check(right == N, "%d of %d children had the right status (%s)", right, N, table.concat(bad, ", ", 1, math.min(#bad, 5)))
C.check(peak <= PAR, "%d children at once, limit %d", peak, PAR)
local fds_after = open_fds()
C.check(fds_after == fds_before, "%d descriptors open before, %d after", fds_before, fds_after)
local rss = C.peak_rss_kb()
C.check(rss < RSS_LIMIT_KB, "peak RSS %d KiB, limit %d KiB", rss, RSS_LIMIT_KB)
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
C.finish("procs", ("%d children, %d at most at once, all statuses right in %.2f s (%.0f/s), %d fds before, %d after, %d left%s"):format(
  right, peak, elapsed, right / elapsed, fds_before, fds_after, #left,
  os.getenv("ASYNCRUN_NO_PIDFD") and " (SIGCHLD fallback)" or ""))
