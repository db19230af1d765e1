#!/usr/bin/env asyncrun
-- A job runner: runs shell commands, one per line of a file (or standard input), at most
-- LIMIT at once, each within TIMEOUT seconds. A job that overruns is killed together with
-- everything it started (each job leads its own process group, and the kill reaches the
-- whole group), so no background process of a job outlives it.
--
--   asyncrun examples/jobs.lua [--limit N] [--timeout SECONDS] [FILE]
--
-- Each job's output (stdout and stderr together, 2>&1) is printed as one block when it ends:
--   == [3] make test: exit 0 (1.52 s)
-- followed by its lines. Exit status: 0 if every job exited 0, else 1.

local limit, timeout, file = 4, 60, nil
local i = 1
while i <= #arg do
  local a = arg[i]
  if a == "--limit" or a == "--timeout" then
    local v = tonumber(arg[i + 1])
    if not v or v <= 0 or (a == "--limit" and not math.tointeger(v)) then
      io.stderr:write("jobs: ", a, " wants a positive number\n")
      os.exit(2)
    end
    if a == "--limit" then limit = math.tointeger(v) else timeout = v end
    i = i + 2
  else
    file = a
    i = i + 1
  end
end

local input = async.stdin
if file then
  local f, err = io.open(file)
  if not f then io.stderr:write("jobs: ", err, "\n"); os.exit(2) end
  input = f
end
local commands = {}
for line in input:lines() do
  if line:match("%S") and not line:match("^%s*#") then commands[#commands + 1] = line end
end

local slots = async.semaphore(limit)
local failed = 0

local function job(n, command)
  local _ <close> = slots:acquire()
  local t0 = async.now()
  local ok, out, _, code, sig = pcall(async.timeout, timeout, async.capture,
    { "sh", "-c", command }, { stderr = "stdout" })
  local how
  if not ok then
    -- the capture was cancelled by its timeout: the job's whole group was killed
    how, out = ("timed out after %g s, killed"):format(timeout), ""
  elseif code then
    how = "exit " .. code
  else
    how = "killed by " .. tostring(sig)
  end
  if code ~= 0 then failed = failed + 1 end
  -- one write per job: blocks never interleave
  io.write(("== [%d] %s: %s (%.2f s)\n%s"):format(n, command, how, async.now() - t0, out or ""))
  io.flush()
end

local tasks = {}
for n, command in ipairs(commands) do tasks[n] = async.spawn(job, n, command) end
async.gather(tasks)
os.exit(failed == 0 and 0 or 1)
