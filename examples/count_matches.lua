#!/usr/bin/env asyncrun
-- Counts the lines matching a pattern over many files: one grep per file, N of them at once,
-- each grep's output handed straight to its own wc -l (a stream given as a child's stdin:
-- no byte goes through Lua), and the counts summed in file order.
--
--   asyncrun examples/count_matches.lua [--jobs N] PATTERN FILE...
--
-- Prints "COUNT FILE" per file, then "COUNT total"; a file grep cannot read is reported on
-- stderr (grep's own message) and the exit status is then 2, as grep's would be.

local args, jobs = {}, 4
local i = 1
while i <= #arg do
  if arg[i] == "--jobs" then
    jobs = math.tointeger(tonumber(arg[i + 1]))
    if not jobs or jobs < 1 then io.stderr:write("count_matches: --jobs wants a positive integer\n"); os.exit(2) end
    i = i + 2
  else
    args[#args + 1] = arg[i]
    i = i + 1
  end
end
local pattern = table.remove(args, 1)
if not pattern or #args == 0 then
  io.stderr:write("usage: count_matches.lua [--jobs N] PATTERN FILE...\n")
  os.exit(2)
end

local limit = async.semaphore(jobs)

-- grep PATTERN FILE | wc -l
local function count(file)
  local _ <close> = limit:acquire()
  local grep = assert(async.exec({ "grep", "-e", pattern, "--", file }, { stdout = "pipe" }))
  -- grep.stdout now belongs to wc: asyncrun closes its own copy, so wc sees the end of its
  -- input when grep exits
  local wc = assert(async.exec({ "wc", "-l" }, { stdin = grep.stdout, stdout = "pipe" }))
  local n = tonumber(wc.stdout:read("a"))
  wc.stdout:close()
  wc:wait()
  return n, grep:wait() -- grep: 0 found, 1 none, 2 trouble
end

local tasks = {}
for k, file in ipairs(args) do tasks[k] = async.spawn(count, file) end
local total, status = 0, 0
for k, t in ipairs(tasks) do
  local n, code = t:await()
  if code == 2 then status = 2 end
  total = total + n
  print(n, args[k])
end
print(total, "total")
os.exit(status)
