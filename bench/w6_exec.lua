-- W6 process fan-out: N runs of /bin/echo i, at most J at once, each output captured (a
-- pipe read to its end, then the exit status); prints the line count. Same shape as the
-- asyncio peer (create_subprocess_exec with stdout=PIPE, communicate) and the Node peer
-- (J workers over execFile). With a third argument "cpu", also prints on stderr asyncrun's
-- own CPU time (user + sys of this process, not of the children) per child.
-- usage: asyncrun w6_exec.lua [N=2000] [J=32] [cpu]
local N = tonumber(arg[1]) or 2000
local J = tonumber(arg[2]) or 32
local next_i, lines = 1, 0

local function worker()
  while next_i <= N do
    local i = next_i
    next_i = i + 1
    local p = assert(async.exec({ "/bin/echo", tostring(i) }, { stdout = "pipe" }))
    local out = p.stdout:read("a")
    p.stdout:close()
    assert(p:wait() == 0)
    lines = lines + select(2, out:gsub("\n", ""))
  end
end

local workers = {}
for k = 1, J do workers[k] = async.spawn(worker) end
async.gather(workers)
print(lines)
if arg[3] == "cpu" then
  local f = assert(io.open("/proc/self/stat"))
  local stat = f:read("a")
  f:close()
  local utime, stime = stat:match("^.-%) %S+" .. (" %S+"):rep(10) .. " (%d+) (%d+)")
  local getconf = io.popen("getconf CLK_TCK")
  local hz = tonumber(getconf:read("a")) or 100
  getconf:close()
  io.stderr:write(("asyncrun own cpu: %.1f us per child (%d children)\n"):format(
    (utime + stime) / hz / N * 1e6, N))
end
