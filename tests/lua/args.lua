-- Number arguments (SPEC §3 "Arguments"): every function of the API that takes a number
-- takes it as Lua's own functions do — a numeric string (arg[1]), a float with an exact
-- integer value — refuses a fractional float where an integer is wanted and anything that is
-- not a number with Lua's messages, and says what range it wanted when a number is outside.
local T = require "testlib"

-- Each row: the argument, a call(v) that passes v there and checks what it did (it raises
-- when the call failed), a good value, whether it must be an integer, and an out-of-range
-- value with the message it gets. Read counts follow file:read, which takes only numbers
-- (a string is a format): `string_is_format`; a signal is a number or a name: `string_is_name`.
local function cat(text)
  local p = assert(async.exec({ "printf", text }, { stdout = "pipe" }))
  return p.stdout, p
end

local server = assert(async.tcp.listen("127.0.0.1", 0, function() end))

local rows = {
  { "tcp.listen port", 0, int = true, bad = { 70000, "port must be 0 to 65535, got 70000" },
    call = function(v)
      local srv = assert(async.tcp.listen("127.0.0.1", v, function() end))
      srv:close()
    end },
  { "tcp.connect port", server:port(), int = true, bad = { -1, "port must be 0 to 65535, got -1" },
    call = function(v) assert(async.tcp.connect("127.0.0.1", v)):close() end },
  { "semaphore count", 2, int = true, bad = { -1, "count must be 0 or more, got -1" },
    call = function(v) assert(async.semaphore(v):value() == 2) end },
  { "queue maxsize", 2, int = true, bad = { -1, "maxsize must be 0 or more, got -1" },
    call = function(v)
      local q = async.queue(v)
      assert(q:try_put(1) and q:try_put(2) and not q:try_put(3), "bounded at 2")
    end },
  { "sleep seconds", 0.01, bad = { 0 / 0, "seconds must not be nan" },
    call = function(v) async.sleep(v) end },
  { "timeout seconds", 5, bad = { 0 / 0, "seconds must not be nan" },
    call = function(v) assert(async.timeout(v, function() return 7 end) == 7) end },
  { "wait_for seconds", 5, bad = { 0 / 0, "seconds must not be nan" },
    call = function(v) assert(async.wait_for(async.spawn(function() return 7 end), v) == 7) end },
  { "read count", 3, int = true, string_is_format = true,
    bad = { -1, "count must be 0 or more, got -1" },
    call = function(v) assert(cat("abcdef"):read(v) == "abc") end },
  { "lines count", 3, int = true, string_is_format = true,
    call = function(v)
      local got = {}
      for s in cat("abcdef"):lines(v) do got[#got + 1] = s end
      assert(table.concat(got, ",") == "abc,def")
    end },
  { "read_some max", 3, int = true, bad = { 0, "max must be 1 or more, got 0" },
    call = function(v)
      local s, p = cat("abcdef")
      p:wait()
      assert(s:read_some(v) == "abc")
    end },
  { "setvbuf size", 4096, int = true,
    bad = { -1, "size must be 0 to 1073741824, got -1" },
    call = function(v) local s = cat("") assert(s:setvbuf("full", v) == true) end },
  { "signal number", 10, int = true, string_is_name = true, bad = { 0, "signal number must be 1 to" },
    call = function(v) async.signal(v):close() end },
  { "process:kill signal", 15, int = true, string_is_name = true, bad = { 1000, "signal number must be 1 to" },
    call = function(v)
      local p = assert(async.exec({ "sleep", "10" }))
      assert(p:kill(v))
      local code, sig = p:wait()
      assert(code == nil and sig == "TERM", tostring(sig))
    end },
}

for _, row in ipairs(rows) do
  local name, good = row[1], row[2]
  T.case(name .. ": a number, a numeric string, an exact float", function()
    row.call(good)
    row.call(good + 0.0)
    if row.string_is_format then
      T.raises("invalid format", row.call, tostring(good))
    else
      row.call(tostring(good))
      row.call(" " .. tostring(good) .. " ") -- as tonumber takes it
    end
  end)
  T.case(name .. ": a fractional float", function()
    if row.int then
      T.raises("(number has no integer representation)", row.call, good + 0.5)
      if not row.string_is_format then
        T.raises("(number has no integer representation)", row.call, tostring(good + 0.5))
      end
    else
      row.call(good + 0.5)
    end
  end)
  T.case(name .. ": not a number", function()
    local err = T.raises("bad argument #", row.call, {})
    if row.string_is_name then
      T.contains(err, "expected, got table", "the type is named")
      T.raises("(unknown signal 'twelve')", row.call, "twelve")
    elseif not row.string_is_format then
      T.contains(err, "expected, got table", "the type is named")
      err = T.raises("bad argument #", row.call, "twelve")
      T.contains(err, "expected, got string", "a string that is no numeral")
    else -- as file:read
      T.contains(err, "(invalid format)", "a table is no format")
      T.raises("invalid format", row.call, "twelve")
    end
  end)
  if row.bad then
    T.case(name .. ": out of range, a message that says what was wanted", function()
      T.raises(row.bad[2], row.call, row.bad[1])
    end)
  end
end

server:close()
T.finish()
