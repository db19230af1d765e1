-- Signal listeners (SPEC §4): async.signal(name):wait() returns once per delivery, deliveries
-- that came while nobody waited are counted, close(), INT/TERM listeners replace the
-- cancellation, argument errors. The script signals itself through `kill` children, one
-- signal at a time (the kernel merges a standard signal sent again while still pending).
-- Storms and signals from outside are in tests/io.bats.
local T = require "testlib"

local PID = tonumber(assert(io.open("/proc/self/stat")):read("a"):match("^(%d+)"))

-- Sends signal `name` to this process and lets the loop see it before the next one.
local function send(name)
  local p = assert(async.exec({ "kill", "-" .. name, tostring(PID) }))
  T.values(T.pack(p:wait()), T.pack(0, nil), "kill -" .. name)
  async.sleep(0.05)
end

T.case("wait() returns true at the next delivery", function()
  local l = async.signal("USR2")
  local w = async.spawn(function() return l:wait() end)
  async.sleep(0.02)
  T.eq(w:status(), "pending", "waiting for a delivery")
  send("USR2")
  T.eq(async.timeout(5, w.await, w), true, "woken by the delivery")
  l:close()
end)

T.case("deliveries while nobody waits are counted: 3 sent, 3 waits return at once", function()
  local l = async.signal("USR2")
  for _ = 1, 3 do send("USR2") end
  local t0 = async.now()
  for i = 1, 3 do T.eq(async.timeout(2, l.wait, l), true, "wait " .. i) end
  T.ok(async.now() - t0 < 0.5, "none of the 3 waits blocked")
  T.eq(T.kind(T.fails(async.timeout, 0.1, l.wait, l)), "timeout", "a 4th wait blocks")
  send("USR2")
  T.eq(async.timeout(5, l.wait, l), true, "and a new delivery still comes through")
  l:close()
end)

T.case("two listeners for one signal both see each delivery", function()
  local a, b = async.signal("USR2"), async.signal("USR2")
  send("USR2")
  send("USR2")
  for _, l in ipairs({ a, b }) do
    T.eq(async.timeout(5, l.wait, l), true, "first")
    T.eq(async.timeout(5, l.wait, l), true, "second")
  end
  a:close()
  send("USR2")
  T.eq(async.timeout(5, b.wait, b), true, "b still listens after a closed")
  b:close()
end)

T.case("several tasks waiting on one listener are served one delivery each, in order", function()
  local l = async.signal("USR2")
  local order = {}
  local tasks = {}
  for i = 1, 3 do
    tasks[i] = async.spawn(function() l:wait() order[#order + 1] = i end)
    async.sleep(0)
  end
  async.sleep(0.02)
  send("USR2")
  T.eq(table.concat(order, ","), "1", "one delivery wakes the first waiter only")
  send("USR2")
  send("USR2")
  async.timeout(5, async.gather, tasks)
  T.eq(table.concat(order, ","), "1,2,3", "FIFO")
  l:close()
end)

T.case("close() wakes a waiting task with nil, 'closed'; later waits say the same", function()
  local l = async.signal("USR2")
  local w = async.spawn(function() return l:wait() end)
  async.sleep(0.02)
  l:close()
  T.values(T.pack(async.timeout(5, w.await, w)), T.pack(nil, "closed"), "the waiter")
  T.values(T.pack(l:wait()), T.pack(nil, "closed"), "a wait after close")
  l:close() -- twice is harmless
end)

T.case("<close> closes a listener at the end of the scope", function()
  local l
  do
    local s <close> = async.signal("USR2")
    l = s
  end
  T.values(T.pack(l:wait()), T.pack(nil, "closed"), "closed by <close>")
end)

T.case("a listener's wait can be cancelled and time out; the listener stays usable", function()
  local l = async.signal("USR2")
  local w = async.spawn(function() return l:wait() end)
  async.sleep(0.02)
  w:cancel()
  T.eq(T.kind(T.fails(w.await, w)), "cancelled", "cancelled waiter")
  T.eq(T.kind(T.fails(async.timeout, 0.05, l.wait, l)), "timeout", "timed out")
  send("USR2")
  T.eq(async.timeout(5, l.wait, l), true, "the delivery went to the next wait, not the gone ones")
  l:close()
end)

T.case("an INT listener replaces the cancellation: the run goes on, the listener sees it", function()
  local l = async.signal("INT")
  send("INT")
  T.eq(async.timeout(5, l.wait, l), true, "the listener saw SIGINT")
  async.sleep(0.05) -- main was not cancelled: this sleep completes
  l:close()
end)

T.case("a TERM listener replaces the cancellation too", function()
  local l = async.signal("TERM")
  send("TERM")
  T.eq(async.timeout(5, l.wait, l), true, "the listener saw SIGTERM")
  async.sleep(0.05)
  l:close()
end)

T.case("names with the SIG prefix work; HUP and WINCH can be listened for", function()
  local l = async.signal("SIGUSR2")
  send("USR2")
  T.eq(async.timeout(5, l.wait, l), true, "SIGUSR2")
  l:close()
  for _, name in ipairs({ "HUP", "WINCH" }) do
    local s = async.signal(name)
    send(name)
    T.eq(async.timeout(5, s.wait, s), true, name)
    s:close()
  end
end)

T.case("unknown signals and bad arguments raise standard argument errors", function()
  -- called from a Lua function, as a field: the error names 'signal'
  T.raises("bad argument #1 to 'signal' (unknown signal 'NOPE')", function()
    local l = async.signal("NOPE")
    return l
  end)
  T.raises("bad argument #1 to 'signal' (unknown signal 'usr2')", function()
    local l = async.signal("usr2")
    return l
  end)
  T.raises("bad argument #1 to 'signal'", function()
    local l = async.signal("KILL")
    return l
  end)
  T.raises("bad argument #1 to 'signal'", function()
    local l = async.signal("STOP")
    return l
  end)
  T.raises("bad argument #1 to 'signal' (string expected, got no value)", function()
    local l = async.signal()
    return l
  end)
  T.raises("bad argument #1 to 'signal' (string expected, got table)", function()
    local l = async.signal({})
    return l
  end)
  local l = async.signal("USR2")
  T.raises("bad argument #1 to 'wait'", function()
    local r = l.wait(5)
    return r
  end)
  T.raises("bad argument #1 to 'close'", function()
    local r = l.close("x")
    return r
  end)
  l:close()
end)

T.finish()
