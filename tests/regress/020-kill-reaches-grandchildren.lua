-- A kill reached the child only: a capture cancelled by its timeout, or p:kill(), left the
-- child's own children running, re-parented to init (runtime/proc.c now starts each child
-- in a process group of its own and signals the group). In both, a grandchild writes its
-- pid to a file first; after the kill it must be gone.

-- running, not a zombie waiting for init to reap it
local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  local state = f:read("a"):match("^.-%) (%S)")
  f:close()
  return state ~= nil and state ~= "Z"
end

local function gone(pid)
  for _ = 1, 40 do
    if not alive(pid) then return true end
    async.sleep(0.05) -- SIGKILL is sent; let it land
  end
  return false
end

local function grandchild_of(run)
  local file = os.tmpname()
  run({ "sh", "-c", "sleep 30 & echo $! > " .. file .. "; wait" })
  local f = assert(io.open(file))
  local pid = assert(math.tointeger(tonumber(f:read("a"))), "no grandchild pid")
  f:close()
  os.remove(file)
  return pid
end

local pid = grandchild_of(function(argv)
  local ok, err = pcall(async.timeout, 0.3, async.capture, argv)
  assert(not ok, "the capture should have timed out")
end)
assert(gone(pid), "a grandchild outlived its capture's timeout")

pid = grandchild_of(function(argv)
  local p = assert(async.exec(argv))
  async.sleep(0.3)
  assert(p:kill())
  local code, sig = p:wait()
  assert(code == nil and sig == "TERM", tostring(sig))
end)
assert(gone(pid), "a grandchild outlived p:kill()")
