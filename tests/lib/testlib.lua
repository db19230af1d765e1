-- A tiny assertion library for the Lua test scripts run by asyncrun itself.
local T = {}

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

function T.eq(actual, expected, what)
  if actual ~= expected then
    error(string.format("%s: expected %s, got %s", what or "value", show(expected),
      show(actual)), 2)
  end
end

-- Asserts that v is truthy.
function T.ok(v, what)
  if not v then error((what or "condition") .. ": expected a true value, got " .. show(v), 2) end
  return v
end

-- Asserts rawequal(actual, expected) (identity, ignoring __eq).
function T.same(actual, expected, what)
  if not rawequal(actual, expected) then
    error(string.format("%s: expected the very value %s, got %s", what or "value",
      show(expected), show(actual)), 2)
  end
end

-- Asserts that the string s contains pattern (plain text).
function T.contains(s, pattern, what)
  if type(s) ~= "string" or not s:find(pattern, 1, true) then
    error(string.format("%s: expected a string containing %q, got %s", what or "value",
      pattern, show(s)), 2)
  end
end

-- Packs values keeping trailing nils: T.pack(...) -> {n = select('#', ...), ...}
T.pack = table.pack

-- Asserts that the packed values t equal the expected list (n counted).
function T.values(t, expected, what)
  what = what or "values"
  if t.n ~= expected.n then
    error(string.format("%s: expected %d values, got %d", what, expected.n, t.n), 2)
  end
  for i = 1, expected.n do
    if t[i] ~= expected[i] then
      error(string.format("%s: value #%d: expected %s, got %s", what, i, show(expected[i]),
        show(t[i])), 2)
    end
  end
end

-- Asserts that fn(...) raises an error whose string form contains pattern (plain text).
function T.raises(pattern, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then error("expected an error containing '" .. pattern .. "'", 2) end
  if not tostring(err):find(pattern, 1, true) then
    error("expected an error containing '" .. pattern .. "', got: " .. tostring(err), 2)
  end
  return err
end

-- Asserts that fn(...) raises and returns the raw error value (whatever its type).
function T.fails(fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then error("expected an error, but the call returned normally", 2) end
  return err
end

-- Runs fn; when it fails, the behaviour is a known, reported deviation from the SPEC:
-- print "KNOWN BUG: description" (and the error) to stderr and go on instead of failing.
-- When fn passes, say so too, so a fixed bug is noticed and the wrapper can be removed.
-- fn runs in the calling task, so it may suspend.
function T.known_bug(description, fn)
  local ok, err = pcall(fn)
  if ok then
    io.stderr:write("KNOWN BUG (now passing, remove the wrapper): ", description, "\n")
  else
    io.stderr:write("KNOWN BUG: ", description, ": ", tostring(err), "\n")
  end
  return ok
end

-- Runs one named check (in the calling task, so it may suspend). A failure is printed to
-- stderr and counted; the other cases still run. End the script with T.finish().
T.failures = 0
function T.case(name, fn)
  local ok, err = xpcall(fn, function(e) return debug.traceback(tostring(e), 2) end)
  if not ok then
    T.failures = T.failures + 1
    io.stderr:write("FAIL ", name, ": ", tostring(err), "\n")
  end
  return ok
end

-- Raises (failing the script) if any T.case failed.
function T.finish()
  if T.failures > 0 then error(T.failures .. " case(s) failed", 0) end
end

-- Names an error value for logs and messages: "cancelled", "timeout" or tostring(e).
function T.kind(e)
  if async.is_cancelled(e) then return "cancelled" end
  if async.is_timeout(e) then return "timeout" end
  return tostring(e)
end

-- Lets every ready task run until they all wait (a few loop turns); call it from a task.
function T.settle()
  for _ = 1, 5 do async.sleep(0) end
end

-- n clients, each from connect() and writing `lines` numbered lines from a task of its own
-- while it reads them back; waits up to seconds for all. How many came back in order.
function T.echo_clients(connect, n, lines, seconds)
  local clients = {}
  for c = 1, n do
    clients[c] = async.spawn(function()
      local s = connect()
      local writer = async.spawn(function()
        for i = 1, lines do s:write("client ", c, " line ", i, "\n") end
        s:flush()
      end)
      local good = 0
      for i = 1, lines do
        if s:read("l") == "client " .. c .. " line " .. i then good = good + 1 end
      end
      writer:await()
      s:close()
      return good
    end)
  end
  local total = 0
  for _, good in ipairs(async.timeout(seconds, async.gather, clients)) do total = total + good end
  return total
end

local pid
-- The descriptors this process has open. A blocking io.popen, not async.capture: a spawn of
-- ours holds its status pipe until the loop sees the child's exec, which a loaded machine
-- may show to ls; io.popen's own pipe is the same one descriptor every time.
function T.fds()
  if not pid then
    local f <close> = assert(io.open("/proc/self/stat"))
    pid = f:read("n")
  end
  local ls <close> = assert(io.popen("ls /proc/" .. pid .. "/fd"))
  local n = 0
  for _ in ls:lines() do n = n + 1 end
  return n
end

-- Asserts that the descriptor count comes down to n or below within seconds (5): a socket
-- closed by a peer, a handler or curl may take a few loop turns on a loaded machine.
function T.fds_back_to(n, what, seconds)
  local deadline = async.now() + (seconds or 5)
  local now = T.fds()
  while now > n and async.now() < deadline do
    async.sleep(0.02)
    now = T.fds()
  end
  if now > n then error(string.format("%s: %d descriptors, %d before", what, now, n), 2) end
end

return T
