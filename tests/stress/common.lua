-- Helpers shared by the stress scripts (loaded with dofile from the script's directory).
local C = {}

-- This process's id and its peak resident set (VmHWM) in KiB, from /proc/self.
function C.pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("n")
  f:close()
  return math.tointeger(pid)
end

function C.peak_rss_kb()
  local f = io.open("/proc/self/status")
  if not f then return -1 end
  local kb
  for line in f:lines() do
    kb = kb or line:match("^VmHWM:%s*(%d+)")
  end
  f:close()
  return tonumber(kb) or -1
end

-- Records a failed check; C.finish() exits 1 if there was any.
local failures = 0
function C.check(ok, fmt, ...)
  if not ok then
    failures = failures + 1
    io.stderr:write("CHECK FAILED: ", fmt:format(...), "\n")
  end
  return ok
end

function C.finish(name, summary)
  print(("%s: %s, peak RSS %d KiB (VmHWM)"):format(name, summary, C.peak_rss_kb()))
  io.stdout:flush()
  if failures > 0 then os.exit(1) end
end

return C
