-- The Lua half of fuzz_stream: run by rt_run as the -e chunk, inside the main task.
-- arg[1]: the read operations, hex-encoded bytes (two per operation: kind, argument)
-- arg[2]: a path that opens the same bytes as a regular file (the oracle)
--
-- async.stdin receives the bytes through a pipe, a socket or a regular file, in chunks the
-- harness chose. Each operation is done on the stream and on the oracle, a plain Lua file
-- opened on the same bytes, and the results must be equal: SPEC section 4 says streams
-- mirror Lua's file API ("exactly that many unless the stream ends first, as for files;
-- nil at end of stream"). read_some has no file counterpart: it must return 1..max bytes
-- that the oracle then reads identically. In the end both are drained and must agree.
local ops_hex, oracle_path = arg[1], arg[2]
local s = async.stdin
local f = assert(io.open(oracle_path, "rb"))

local ops = {}
for h in ops_hex:gmatch("%x%x") do ops[#ops + 1] = tonumber(h, 16) end

local function show(v)
  if type(v) == "string" then
    if #v > 40 then return ("%q..(%d bytes)"):format(v:sub(1, 40), #v) end
    return ("%q"):format(v)
  end
  return tostring(v)
end

local function showpack(t)
  local parts = {}
  for i = 1, t.n do parts[i] = show(t[i]) end
  return "(" .. table.concat(parts, ", ") .. ")"
end

local step = 0
local function check(what, got, want)
  local same = got.n == want.n
  for i = 1, math.max(got.n, want.n) do
    if got[i] ~= want[i] then same = false end
  end
  if not same then
    error(("step %d, %s: stream gave %s, a file gives %s"):format(step, what, showpack(got),
      showpack(want)), 0)
  end
end

-- Calls obj:method(...) as a method (so both raise the same "bad argument" messages);
-- errors become {n=2, false, message}.
local methods = {
  read = function(o, ...) return o:read(...) end,
  read_some = function(o, ...) return o:read_some(...) end,
  write = function(o, ...) return o:write(...) end,
  flush = function(o) return o:flush() end,
  setvbuf = function(o, ...) return o:setvbuf(...) end,
  close = function(o) return o:close() end,
}
local function call(obj, method, ...)
  local r = table.pack(pcall(methods[method], obj, ...))
  if r[1] then return table.pack(table.unpack(r, 2, r.n)) end
  return table.pack(false, tostring(r[2]))
end

local function formats(a)
  local pick = { "l", "L", "a", "*l", 0, 1, 7, 300 }
  return pick[a % 8 + 1], pick[(a >> 3) % 8 + 1]
end

local function count_of(a)
  if a >= 250 then return 1000000 end      -- more than there is: up to the end
  if a >= 240 then return (a - 240) * 4096 end
  return a
end

local function read(desc, ...)
  check(desc, call(s, "read", ...), call(f, "read", ...))
end

local i = 1
while i + 1 <= #ops do
  local kind, a = ops[i], ops[i + 1]
  i = i + 2
  step = step + 1
  local k = kind % 12
  if k == 0 then
    read('read("l")', "l")
  elseif k == 1 then
    read('read("L")', "L")
  elseif k == 2 then
    local n = count_of(a)
    read(("read(%d)"):format(n), n)
  elseif k == 3 then
    local n = a * 97
    read(("read(%d)"):format(n), n)
  elseif k == 4 then
    local max = a + 1
    local r = call(s, "read_some", max)
    if r[1] == false then error(("step %d: read_some(%d) raised %s"):format(step, max, r[2]), 0) end
    if r[1] == nil then
      check(("read_some(%d) at the end"):format(max), r, call(f, "read", 1))
    else
      if #r[1] < 1 or #r[1] > max then
        error(("step %d: read_some(%d) returned %d bytes"):format(step, max, #r[1]), 0)
      end
      check(("read_some(%d)"):format(max), r, call(f, "read", #r[1]))
    end
  elseif k == 5 then
    local x, y = formats(a)
    local z = ({ "l", "L", 3 })[kind // 12 % 3 + 1]
    read(("read(%s, %s, %s)"):format(show(x), show(y), show(z)), x, y, z)
  elseif k == 6 then
    local x = formats(a)
    if x ~= "a" then -- s:lines("a") never ends, as for files; one step of it is a read
      local it_s, it_f = s:lines(x), f:lines(x)
      local want = table.pack(it_f())
      if want.n == 0 then want = table.pack(nil) end -- a file's iterator ends with no value
      check(("lines(%s)()"):format(show(x)), table.pack(it_s()), want)
    end
  elseif k == 7 then
    read("read()")
  elseif k == 8 then
    read(("read(%d.5)"):format(a), a + 0.5) -- no integer representation: both raise
  elseif k == 9 then
    local bad = ({ "x", "", "n", "*x", {}, true })[a % 6 + 1]
    if bad == "n" then -- a numeral, as liolib reads it
      read('read("n")', "n")
    else
      -- first, so that neither consumes anything; the messages may differ in their detail
      -- ("invalid format" where liolib says "string expected, got table")
      local rs, rf = call(s, "read", bad), call(f, "read", bad)
      local want = "bad argument #1 to 'read'"
      if rs[1] ~= false or rf[1] ~= false or not rs[2]:find(want, 1, true) then
        error(("step %d, read(%s): stream gave %s, a file gives %s"):format(step, show(bad),
          showpack(rs), showpack(rf)), 0)
      end
    end
  elseif k == 10 then
    read('read("*L")', "*L")
  else
    async.sleep(0) -- let the writer and the loop move between operations
  end
end

step = step + 1
check('read("a") at the end', call(s, "read", "a"), call(f, "read", "a"))
check('read("l") after the end', call(s, "read", "l"), call(f, "read", "l"))
check('read(5) after the end', call(s, "read", 5), call(f, "read", 5))
check('read("a") after the end', call(s, "read", "a"), call(f, "read", "a"))
local r = call(s, "read_some")
if r.n ~= 1 or r[1] ~= nil then error("read_some after the end gave " .. showpack(r), 0) end
f:close()
s:close()

-- The write side: the same operations drive write, flush and setvbuf on one end of a Unix
-- socket while a reader task, sometimes slow, collects the other end (small reads fill the
-- writer's buffer and the kernel's: backpressure). Every call must return what SPEC section
-- 4 says, and the reader must receive exactly what was written, in order, once the writer
-- closes: nothing lost or repeated by the buffer, whatever the flush points and sizes.
local path = os.tmpname() -- the oracle's path may be a memfd's: not a directory to use
os.remove(path)
local got, received = {}, async.event()
local srv = async.unix.listen(path, function(c)
  local n = 0
  local function op_at() return #ops > 0 and ops[n % #ops + 1] or 0 end
  for chunk in function() n = n + 1 return c:read_some(op_at() * 64 + 64) end do
    got[#got + 1] = chunk
    if op_at() % 4 == 0 then async.sleep(0) end
  end
  received:set()
end)
local w = async.unix.connect(path)
local sent = {}
local function expect(what, r, ...)
  local want = table.pack(...)
  check(what, r, want)
end
i, step = 1, 0
while i + 1 <= #ops do
  local kind, a = ops[i], ops[i + 1]
  i = i + 2
  step = step + 1
  local k = kind % 7
  local data = string.rep(string.char(65 + step % 26), count_of(a) % 200000)
  if k == 0 then
    sent[#sent + 1] = data
    expect(("write(%d bytes)"):format(#data), call(w, "write", data), w)
  elseif k == 1 then
    sent[#sent + 1] = data .. a .. "\n" .. 1.5
    expect(("write(%d bytes, %d, nl, 1.5)"):format(#data, a), call(w, "write", data, a, "\n", 1.5), w)
  elseif k == 2 then
    expect("flush()", call(w, "flush"), w)
  elseif k == 3 then
    local mode = ({ "no", "line", "full" })[a % 3 + 1]
    local size = a >= 128 and (a - 127) * 37 or nil
    expect(("setvbuf(%q, %s)"):format(mode, size), call(w, "setvbuf", mode, size), true)
  elseif k == 4 then
    async.sleep(0)
  elseif k == 5 then
    local r = call(w, "setvbuf", ({ "x", "", "No" })[a % 3 + 1])
    if r[1] ~= false or not r[2]:find("bad argument #1 to 'setvbuf' (invalid option", 1, true) then
      error(("step %d: a bad setvbuf mode gave %s"):format(step, showpack(r)), 0)
    end
  else
    sent[#sent + 1] = "\n" .. data:sub(1, a)
    expect("write(newline first)", call(w, "write", "\n", data:sub(1, a)), w)
  end
end
expect("close()", call(w, "close"), true)
received:wait()
srv:close()
os.remove(path)
local want, have = table.concat(sent), table.concat(got)
if want ~= have then
  error(("the reader got %d bytes, %d were written (first difference at %d)"):format(#have, #want,
    (function() for j = 1, #want do if want:sub(j, j) ~= have:sub(j, j) then return j end end
      return #want + 1 end)()), 0)
end
