-- Processes (SPEC §4): async.exec with its stdio modes, env and cwd, process:wait/kill,
-- exec failures, what children inherit, io.popen/os.execute alongside, async.capture, many
-- processes at once, and argument errors. Shutdown, os.exit and the signal dispositions a
-- child starts with are tested from the shell in tests/io.bats.
local T = require "testlib"

local function ok0(p, what)
  T.values(T.pack(p:wait()), T.pack(0, nil), what or "exit 0")
end

T.case("stdout pipe: read('a') gets the output, wait returns 0, nil", function()
  local p = assert(async.exec({ "echo", "hello", "world" }, { stdout = "pipe" }))
  T.eq(math.type(p.pid), "integer", "pid is an integer")
  T.ok(p.pid > 0, "pid > 0")
  T.eq(p.stdout:read("a"), "hello world\n", "output")
  T.eq(p.stdin, nil, "no stdin pipe asked for")
  T.eq(p.stderr, nil, "no stderr pipe asked for")
  ok0(p)
  T.contains(tostring(p), "process " .. p.pid, "tostring")
end)

T.case("argv is not run through a shell", function()
  local p = assert(async.exec({ "echo", "$HOME", "a b", "*", ";", "|" }, { stdout = "pipe" }))
  T.eq(p.stdout:read("a"), "$HOME a b * ; |\n", "arguments passed verbatim")
  ok0(p)
end)

T.case("stdin pipe: written, then closed, cat echoes it and ends", function()
  local p = assert(async.exec({ "cat" }, { stdin = "pipe", stdout = "pipe" }))
  p.stdin:write("line 1\n", "line 2\n")
  p.stdin:close()
  T.eq(p.stdout:read("a"), "line 1\nline 2\n", "echoed")
  ok0(p)
end)

T.case("stderr pipe is separate from stdout", function()
  local p = assert(async.exec({ "sh", "-c", "echo out; echo err >&2" },
    { stdout = "pipe", stderr = "pipe" }))
  T.eq(p.stderr:read("a"), "err\n", "stderr")
  T.eq(p.stdout:read("a"), "out\n", "stdout")
  ok0(p)
end)

T.case('"null": stdin reads the end at once, output is discarded', function()
  local p = assert(async.exec({ "cat" }, { stdin = "null", stdout = "pipe" }))
  T.eq(async.timeout(5, p.stdout.read, p.stdout, "a"), "", "cat saw /dev/null")
  ok0(p)
  local q = assert(async.exec({ "sh", "-c", "echo gone; echo gone >&2; test -c /dev/stdout" },
    { stdout = "null", stderr = "null" }))
  T.eq(q.stdout, nil, "no stream for null")
  ok0(q, "stdout is the character device /dev/null")
end)

T.case("env replaces the whole environment", function()
  local p = assert(async.exec({ "env" }, { stdout = "pipe", env = { A = "1", B_VAR = "two words" } }))
  local lines = {}
  for l in p.stdout:lines() do lines[#lines + 1] = l end
  table.sort(lines)
  T.eq(table.concat(lines, ","), "A=1,B_VAR=two words", "only the given variables")
  ok0(p)
  local q = assert(async.exec({ "env" }, { stdout = "pipe", env = {} }))
  T.eq(q.stdout:read("a"), "", "an empty environment")
  ok0(q)
  -- without env the child inherits ours
  local r = assert(async.exec({ "sh", "-c", 'printf %s "$HOME"' }, { stdout = "pipe" }))
  T.eq(r.stdout:read("a"), os.getenv("HOME") or "", "inherited HOME")
  ok0(r)
end)

T.case("env values may be numbers; the program is still found on PATH", function()
  local p = assert(async.exec({ "printenv", "N" }, { stdout = "pipe", env = { N = 42 } }))
  T.eq(p.stdout:read("a"), "42\n", "number value")
  ok0(p)
end)

T.case("cwd sets the child's working directory", function()
  local p = assert(async.exec({ "pwd" }, { stdout = "pipe", cwd = "/" }))
  T.eq(p.stdout:read("a"), "/\n", "pwd in /")
  ok0(p)
  local q = assert(async.exec({ "pwd", "-P" }, { stdout = "pipe", cwd = "/tmp" }))
  local real = io.popen("cd /tmp && pwd -P"):read("l")
  T.eq(q.stdout:read("l"), real, "pwd in /tmp")
  ok0(q)
end)

T.case("a cwd that does not exist fails as a value, without a child", function()
  local r = T.pack(async.exec({ "true" }, { cwd = "/no/such/dir" }))
  T.eq(r[1], nil, "no process")
  T.eq(type(r[2]), "string", "a message")
  T.contains(r[2], "No such file or directory", "the message")
  T.eq(r[3], 2, "ENOENT")
end)

T.case("wait returns the exit code; nil, signame after a signal", function()
  local p = assert(async.exec({ "sh", "-c", "exit 3" }))
  T.values(T.pack(p:wait()), T.pack(3, nil), "exit 3")
  local k = assert(async.exec({ "sleep", "10" }))
  T.eq(k:kill("KILL"), true, "kill returns true")
  T.values(T.pack(k:wait()), T.pack(nil, "KILL"), "killed by KILL")
  local t = assert(async.exec({ "sleep", "10" }))
  T.eq(t:kill(), true, "kill() sends TERM")
  T.values(T.pack(t:wait()), T.pack(nil, "TERM"), "killed by TERM")
  local h = assert(async.exec({ "sleep", "10" }))
  h:kill("HUP")
  T.values(T.pack(h:wait()), T.pack(nil, "HUP"), "killed by HUP")
  local s = assert(async.exec({ "sh", "-c", "kill -USR1 $$; sleep 5" }))
  T.values(T.pack(s:wait()), T.pack(nil, "USR1"), "killed itself with USR1")
end)

T.case("wait called long after the exit still returns the status, every time", function()
  local p = assert(async.exec({ "sh", "-c", "exit 42" }))
  async.sleep(0.2)
  T.values(T.pack(p:wait()), T.pack(42, nil), "late wait")
  T.values(T.pack(p:wait()), T.pack(42, nil), "second wait")
  T.contains(tostring(p), "exited", "tostring after the wait")
  local k = assert(async.exec({ "sleep", "10" }))
  k:kill("KILL")
  async.sleep(0.2)
  T.values(T.pack(k:wait()), T.pack(nil, "KILL"), "late wait after a kill")
end)

T.case("wait suspends until the exit; several tasks may wait for one process", function()
  local p = assert(async.exec({ "sleep", "0.2" }))
  local t0 = async.now()
  local a = async.spawn(function() return p:wait() end)
  local b = async.spawn(function() return p:wait() end)
  async.sleep(0.05)
  T.eq(a:status(), "pending", "a waits")
  T.values(T.pack(a:await()), T.pack(0, nil), "a")
  T.values(T.pack(b:await()), T.pack(0, nil), "b")
  T.ok(async.now() - t0 >= 0.15, "they waited for the exit")
end)

T.case("a wait can be timed out and the process waited for again", function()
  local p = assert(async.exec({ "sleep", "10" }))
  T.eq(T.kind(T.fails(async.timeout, 0.05, p.wait, p)), "timeout", "wait timed out")
  p:kill("KILL")
  T.values(T.pack(p:wait()), T.pack(nil, "KILL"), "waited again")
end)

T.case("kill after the process was reaped: nil, 'No such process', 3", function()
  local p = assert(async.exec({ "true" }))
  p:wait()
  T.values(T.pack(p:kill()), T.pack(nil, "No such process", 3), "kill after reaping")
end)

T.case("exec failure names the program: nil, 'prog: No such file or directory', 2", function()
  T.values(T.pack(async.exec({ "nosuchprog" })),
    T.pack(nil, "nosuchprog: No such file or directory", 2), "not on PATH")
  T.values(T.pack(async.exec({ "/no/such/prog", "arg" })),
    T.pack(nil, "/no/such/prog: No such file or directory", 2), "a path")
  T.values(T.pack(async.exec({ "/etc" })), T.pack(nil, "/etc: Permission denied", 13),
    "a directory")
  -- pipes asked for are not left behind
  T.values(T.pack(async.exec({ "nosuchprog" }, { stdin = "pipe", stdout = "pipe", stderr = "pipe" })),
    T.pack(nil, "nosuchprog: No such file or directory", 2), "with pipes")
end)

T.case("an exec cancelled while its child starts leaves no child behind", function()
  local marker = ("1000.%d%d"):format(os.time() % 100000, math.random(1000))
  local started = {}
  for i = 1, 50 do -- deadlines around a child's start-up: some fire during it
    local ok, p = pcall(async.timeout, 0.0002 * (i % 5), async.exec, { "sleep", marker })
    if ok then started[#started + 1] = p else T.eq(T.kind(p), "timeout", "the error") end
  end
  local pgrep = io.popen(("pgrep -f -c '^sleep %s$'"):format(marker))
  T.eq(tonumber(pgrep:read("a")), #started, "children running: those of the execs that returned")
  pgrep:close()
  for _, p in ipairs(started) do
    p:kill("KILL")
    p:wait()
  end
end)

T.case("exec where the task cannot suspend (a gsub callback) waits for the exec there", function()
  local p
  ("x"):gsub(".", function() p = assert(async.exec({ "echo", "in gsub" }, { stdout = "pipe" })) end)
  T.eq(p.stdout:read("a"), "in gsub\n", "output")
  ok0(p)
  local r
  ("x"):gsub(".", function() r = T.pack(async.exec({ "nosuchprog" })) end)
  T.values(r, T.pack(nil, "nosuchprog: No such file or directory", 2), "a failure there")
  -- in a coroutine: passed up to the task, or, resumed inside the callback, waited for there
  local co = coroutine.wrap(function() return async.exec({ "echo", "co" }, { stdout = "pipe" }) end)()
  T.eq(co.stdout:read("a"), "co\n", "in a coroutine")
  ok0(co);
  ("x"):gsub(".", function()
    p = coroutine.wrap(function() return async.exec({ "echo", "both" }, { stdout = "pipe" }) end)()
  end)
  T.eq(p.stdout:read("a"), "both\n", "in a coroutine resumed inside gsub")
  ok0(p)
end)

T.case("a long argv and a large environment reach the child whole", function()
  local argv, env = { "sh", "-c", 'printf "%s\\n" "$#" "$V_0" "$V_999"; env | grep -c ^V_', "sh" }, {}
  for i = 1, 5000 do argv[#argv + 1] = ("arg%d"):rep(10):format(i, i, i, i, i, i, i, i, i, i) end
  for i = 0, 999 do env["V_" .. i] = ("v"):rep(100) .. i end
  env.PATH = os.getenv("PATH")
  local out, err, code = async.capture(argv, { env = env })
  T.eq(out, ("5000\n%s0\n%s999\n1000\n"):format(("v"):rep(100), ("v"):rep(100)), "output")
  T.eq(err, "", "stderr")
  T.eq(code, 0, "code")
end)

-- fd numbers of streams, from their tostring
local function fd_of(s) return tonumber(tostring(s):match("fd (%d+)")) end

T.case("children inherit none of asyncrun's own descriptors", function()
  local srv = assert(async.tcp.listen("127.0.0.1", 0, function(s) s:read("a") end))
  local c = assert(async.tcp.connect("127.0.0.1", srv:port()))
  local other = assert(async.exec({ "cat" }, { stdin = "pipe", stdout = "pipe" }))
  local sig = async.signal("USR2")
  local mine = { fd_of(c), fd_of(other.stdin), fd_of(other.stdout), fd_of(async.stderr) }
  for _, fd in ipairs(mine) do T.ok(fd and fd > 2, "an fd of ours: " .. tostring(fd)) end
  local p = assert(async.exec({ "ls", "/proc/self/fd" }, { stdout = "pipe" }))
  local child = {}
  for l in p.stdout:lines() do child[tonumber(l)] = true end
  ok0(p)
  for _, fd in ipairs(mine) do T.eq(child[fd], nil, "fd " .. fd .. " in the child") end
  T.ok(child[0] and child[1], "the child has 0 and 1")
  sig:close()
  other.stdin:close()
  other:wait()
  c:close()
  srv:close()
end)

T.case("children start with an empty signal mask", function()
  local p = assert(async.exec({ "grep", "^SigBlk:", "/proc/self/status" }, { stdout = "pipe" }))
  local line = p.stdout:read("l")
  ok0(p)
  T.ok(line:match("^SigBlk:%s+0+$"), "mask: " .. line)
end)

T.case("io.popen and os.execute keep working next to async.exec children", function()
  local p = assert(async.exec({ "sleep", "0.3" }))
  local q = assert(async.exec({ "sh", "-c", "exit 7" }))
  async.sleep(0.1) -- q has exited, unreaped: io.popen and os.execute must not take it
  local f = assert(io.popen("echo popen; exit 4"))
  T.eq(f:read("a"), "popen\n", "popen output")
  T.values(T.pack(f:close()), T.pack(nil, "exit", 4), "popen close status")
  T.values(T.pack(os.execute("exit 5")), T.pack(nil, "exit", 5), "os.execute status")
  T.values(T.pack(os.execute("true")), T.pack(true, "exit", 0), "os.execute true")
  T.values(T.pack(q:wait()), T.pack(7, nil), "q's status was kept for us")
  T.values(T.pack(p:wait()), T.pack(0, nil), "p")
  -- and the other way round: a popen child ending does not disturb async.exec
  local r = assert(async.exec({ "sh", "-c", "sleep 0.1; exit 9" }))
  local g = assert(io.popen("true"))
  T.values(T.pack(g:close()), T.pack(true, "exit", 0), "popen true")
  T.values(T.pack(r:wait()), T.pack(9, nil), "r")
end)

T.case("capture collects both streams at once, over 64 KiB each, with code and signal", function()
  local out, err, code, sig = async.capture({ "sh", "-c",
    "head -c 300000 /dev/zero | tr '\\0' o; head -c 400000 /dev/zero | tr '\\0' e >&2;" ..
    "head -c 200000 /dev/zero | tr '\\0' O; exit 6" })
  T.eq(#out, 500000, "stdout size")
  T.eq(#err, 400000, "stderr size")
  T.ok(not out:find("[^oO]"), "stdout content")
  T.ok(not err:find("[^e]"), "stderr content")
  T.eq(code, 6, "code")
  T.eq(sig, nil, "signal")
  local o2, e2, c2, s2 = async.capture({ "sh", "-c", "echo x; kill -KILL $$" })
  T.values(T.pack(o2, e2, c2, s2), T.pack("x\n", "", nil, "KILL"), "killed")
end)

T.case("capture: stdin is /dev/null unless opts.input feeds it", function()
  T.values(T.pack(async.timeout(5, async.capture, { "cat" })), T.pack("", "", 0, nil), "no input")
  local big = string.rep("0123456789", 20000)
  local out, err, code = async.capture({ "sh", "-c", "cat; echo done >&2" }, { input = big })
  T.eq(out, big, "input echoed")
  T.eq(err, "done\n", "stderr")
  T.eq(code, 0, "code")
  T.values(T.pack(async.capture({ "wc", "-c" }, { input = "" })), T.pack("0\n", "", 0, nil),
    "empty input")
end)

T.case("capture passes env and cwd; a missing program is nil, message, 2", function()
  T.values(T.pack(async.capture({ "sh", "-c", 'echo "$X"; pwd' }, { env = { X = "y" }, cwd = "/" })),
    T.pack("y\n/\n", "", 0, nil), "env and cwd")
  T.values(T.pack(async.capture({ "nosuchprog" })),
    T.pack(nil, "nosuchprog: No such file or directory", 2), "missing program")
end)

T.case("a capture that times out kills its child and raises the timeout", function()
  local t0 = async.now()
  local err = T.fails(async.timeout, 0.1, async.capture, { "sh", "-c", "echo $$; exec sleep 10" })
  T.eq(T.kind(err), "timeout", "timeout raised")
  T.ok(async.now() - t0 < 3, "it did not wait for the child")
end)

T.case("200 processes, 20 at a time under a semaphore, all succeed", function()
  local sem = async.semaphore(20)
  local running, peak = 0, 0
  local tasks = {}
  for i = 1, 200 do
    tasks[i] = async.spawn(function()
      local _ <close> = sem:acquire()
      running = running + 1
      if running > peak then peak = running end
      local out, err, code = async.capture({ "sh", "-c", 'echo "$0"; exit $(($0 % 5))', tostring(i) })
      running = running - 1
      return out == i .. "\n" and err == "" and code == i % 5
    end)
  end
  local good = 0
  for _, r in ipairs(async.gather(tasks)) do if r then good = good + 1 end end
  T.eq(good, 200, "processes with the right output and code")
  T.eq(peak, 20, "at most 20 at a time, and 20 reached")
end)

T.case("a process object nobody keeps still runs and exits", function()
  local path = os.tmpname()
  os.remove(path)
  async.exec({ "sh", "-c", 'echo done > "$0"', path })
  collectgarbage()
  collectgarbage()
  local text
  for _ = 1, 100 do
    local f = io.open(path)
    if f then text = f:read("a") f:close() end
    if text == "done\n" then break end
    async.sleep(0.02)
  end
  os.remove(path)
  T.eq(text, "done\n", "the child ran")
end)

T.case("bad arguments raise standard argument errors", function()
  T.raises("bad argument #1 to 'exec' (table expected, got no value)", function() return async.exec() end)
  T.raises("bad argument #1 to 'exec' (table expected, got string)", function() return async.exec("ls") end)
  T.raises("bad argument #1 to 'exec'", function() return async.exec({}) end)
  T.raises("bad argument #1 to 'exec'", function() return async.exec({ {} }) end)
  T.raises("bad argument #1 to 'exec'", function() return async.exec({ "ls", true }) end)
  T.raises("bad argument #2 to 'exec' (table expected, got number)", function() return async.exec({ "ls" }, 5) end)
  T.raises("bad argument #2 to 'exec'", function() return async.exec({ "ls" }, { stdin = "bogus" }) end)
  T.raises("bad argument #2 to 'exec'", function() return async.exec({ "ls" }, { stdout = 1 }) end)
  T.raises("bad argument #2 to 'exec'", function() return async.exec({ "ls" }, { stderr = true }) end)
  T.raises("bad argument #2 to 'exec'", function() return async.exec({ "ls" }, { env = "A=1" }) end)
  T.raises("bad argument #2 to 'exec'", function() return async.exec({ "ls" }, { env = { "A=1" } }) end)
  T.raises("bad argument #2 to 'exec'", function() return async.exec({ "ls" }, { env = { A = {} } }) end)
  T.raises("bad argument #2 to 'exec'", function() return async.exec({ "ls" }, { cwd = 5 }) end)
  T.raises("bad argument #2 to 'exec'", function() return async.exec({ "ls" }, { cwd = {} }) end)
  local p = assert(async.exec({ "sleep", "10" }))
  T.raises("bad argument #1 to 'kill' (unknown signal 'NOPE')", function() return p:kill("NOPE") end)
  T.raises("bad argument #1 to 'kill' (string expected, got table)", function() return p:kill({}) end)
  T.raises("bad argument #1 to 'kill' (async.Process expected, got number)", function() return p.kill(5) end)
  T.raises("bad argument #1 to 'wait' (async.Process expected, got number)", function() return p.wait(5) end)
  T.raises("bad argument #1 to 'wait' (async.Process expected, got no value)", function() return p.wait() end)
  p:kill("KILL")
  p:wait()
  T.raises("bad argument #1 to 'capture' (table expected, got nil)", function() return async.capture() end)
  T.raises("bad argument #1 to 'capture'", function() return async.capture("ls") end)
  T.raises("bad argument #2 to 'capture' (table expected, got number)", function() return async.capture({ "ls" }, 5) end)
  T.raises("bad argument #2 to 'capture'", function() return async.capture({ "ls" }, { input = 5 }) end)
  T.raises("bad argument #2 to 'capture'", function() return async.capture({ "ls" }, { input = {} }) end)
  do
    local e = T.raises("bad argument #1 to 'capture'", function() return async.capture({}) end)
    T.ok(not e:find("[async]", 1, true), "the position is the caller's: " .. e)
    T.raises("bad argument #2 to 'capture'", function() return async.capture({ "ls" }, { stdin = "bogus" }) end)
    T.raises("bad argument #2 to 'capture'", function() return async.capture({ "ls" }, { env = 5 }) end)
  end
end)

T.case("capture with opts.stdin = 'pipe' does not hang (nobody can write that pipe)", function()
  T.values(T.pack(async.timeout(5, async.capture, { "cat" }, { stdin = "pipe" })),
    T.pack("", "", 0, nil), "cat saw the end of its input")
end)

T.finish()
