-- async.exec and async.capture for valgrind.sh (valgrind does not know pidfd_open: this runs
-- the SIGCHLD fallback): captures with input and 2>&1, a pipeline handed stream to stream, a
-- Lua file as stdout, a capture cancelled by its timeout, p:kill, and a child left running
-- for the shutdown kill. Exits 1 on a wrong result; memcheck judges the rest.
local failed = 0
local function check(ok, what)
  if not ok then failed = failed + 1; io.stderr:write("FAILED: ", what, "\n") end
end

local out, err, code = async.capture({ "sh", "-c", "cat; echo e >&2; exit 4" }, { input = "in\n" })
check(out == "in\n" and err == "e\n" and code == 4, "capture with input")
out, err = async.capture({ "sh", "-c", "echo o; echo e >&2" }, { stderr = "stdout" })
check(out == "o\ne\n" and err == "", "capture 2>&1")

local a = async.exec({ "seq", "100" }, { stdout = "pipe" })
local b = async.exec({ "grep", "5" }, { stdin = a.stdout, stdout = "pipe" })
check(b.stdout:read("a") == "5\n15\n25\n35\n45\n50\n51\n52\n53\n54\n55\n56\n57\n58\n59\n65\n75\n85\n95\n", "pipeline")
check(a:wait() == 0 and b:wait() == 0, "pipeline statuses")
b.stdout:close()

local f = io.tmpfile()
check(async.exec({ "echo", "file" }, { stdout = f }):wait() == 0, "file status")
f:seek("set")
check(f:read("a") == "file\n", "file contents")
f:close()

local ok, e = pcall(async.timeout, 0.5, async.capture, { "sh", "-c", "sleep 30 & sleep 30; wait" })
check(not ok, "capture timeout")
local p = async.exec({ "sleep", "30" })
check(p:kill() == true, "kill")
local c, sig = p:wait()
check(c == nil and sig == "TERM", "killed status")

local tasks = {}
for i = 1, 20 do
  tasks[i] = async.spawn(function() return select(3, async.capture({ "sh", "-c", "exit " .. i })) end)
end
for i, r in ipairs(async.gather(tasks)) do check(r == i, "status " .. i) end

async.exec({ "sleep", "30" }) -- left for the shutdown kill
if failed > 0 then os.exit(1) end
print("exec_valgrind: ok")
