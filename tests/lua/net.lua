-- Networking inside one asyncrun (SPEC §4): async.tcp and async.unix servers and clients,
-- server:port/close/wait, async.resolve, opts.reuseport, a peer that left, argument errors.
-- Real peers (curl, nc, Python, socat, redis) and descriptor exhaustion are in tests/net.bats.
-- Everything binds to loopback only.
local T = require "testlib"

local function echo_handler(s)
  for l in s:lines() do s:write(l, "\n") end
end

-- A port nobody listens on: one the kernel gave us, then closed.
local function closed_port()
  local srv = assert(async.tcp.listen("127.0.0.1", 0, function() end))
  local port = srv:port()
  srv:close()
  srv:wait()
  return port
end

local function tmp_socket_path()
  local path = os.tmpname()
  os.remove(path)
  return path .. ".sock"
end

T.case("echo server: 100 concurrent clients x 50 lines, none lost or mixed up", function()
  local srv = assert(async.tcp.listen("127.0.0.1", 0, echo_handler))
  local port = srv:port()
  local total = T.echo_clients(function() return assert(async.tcp.connect("127.0.0.1", port)) end, 100, 50, 30)
  T.eq(total, 5000, "lines echoed back in order")
  srv:close()
  srv:wait()
end)

T.case("server:port() gives the kernel's port for port 0; a fixed port can be listened on", function()
  local srv = assert(async.tcp.listen("127.0.0.1", 0, function(s) s:write("first\n") end))
  local port = srv:port()
  T.eq(math.type(port), "integer", "an integer")
  T.ok(port > 0 and port < 65536, "a real port: " .. port)
  T.eq(assert(async.tcp.connect("127.0.0.1", port)):read("l"), "first", "reached on that port")
  srv:close()
  srv:wait()
  -- the same port again, asked for by number (SO_REUSEADDR: no TIME_WAIT trouble)
  local again = assert(async.tcp.listen("127.0.0.1", port, function(s) s:write("again\n") end))
  T.eq(again:port(), port, "port() of a fixed port")
  T.eq(assert(async.tcp.connect("127.0.0.1", port)):read("l"), "again", "reached")
  again:close()
  again:wait()
end)

T.case("listen on a busy port without reuseport: nil, 'Address already in use', 98", function()
  local srv = assert(async.tcp.listen("127.0.0.1", 0, function() end))
  T.values(T.pack(async.tcp.listen("127.0.0.1", srv:port(), function() end)),
    T.pack(nil, "Address already in use", 98), "second listener")
  srv:close()
end)

T.case("server:close() stops accepting while running handlers go on; wait() returns when they end", function()
  local release = async.event()
  local handled = 0
  local srv = assert(async.tcp.listen("127.0.0.1", 0, function(s)
    handled = handled + 1
    release:wait()
    s:write("still served\n")
  end))
  local port = srv:port()
  local c = assert(async.tcp.connect("127.0.0.1", port))
  for _ = 1, 50 do
    if handled == 1 then break end
    async.sleep(0.01)
  end
  T.eq(handled, 1, "the handler runs")
  local waiter = async.spawn(function() return srv:wait() end)
  async.sleep(0.02)
  T.eq(waiter:status(), "pending", "wait() waits while the server is open")
  srv:close()
  T.values(T.pack(async.tcp.connect("127.0.0.1", port)), T.pack(nil, "Connection refused", 111),
    "a new connection is refused")
  async.sleep(0.05)
  T.eq(waiter:status(), "pending", "wait() waits for the running handler after close")
  release:set()
  T.eq(c:read("l"), "still served", "the running handler went on")
  T.eq(c:read("l"), nil, "and its stream was closed when it returned")
  async.timeout(5, waiter.await, waiter)
  T.eq(waiter:status(), "done", "wait() returned once the handler had ended")
  srv:close() -- closing twice is harmless
  T.eq(async.timeout(1, srv.wait, srv), nil, "wait() after the end returns at once")
end)

T.case("server:close({cancel = true}) cancels the running handlers; wait() returns when they end", function()
  local started, cleaned = 0, 0
  local srv = assert(async.tcp.listen("127.0.0.1", 0, function(s)
    started = started + 1
    local ok, err = pcall(function() for _ in s:lines() do end end)
    T.ok(not ok and async.is_cancelled(err), "the handler is cancelled")
    cleaned = cleaned + 1
    error(err, 0)
  end))
  local clients = {}
  for i = 1, 3 do clients[i] = assert(async.tcp.connect("127.0.0.1", srv:port())) end
  for _ = 1, 100 do
    if started == 3 then break end
    async.sleep(0.01)
  end
  T.eq(started, 3, "three handlers wait on their clients")
  T.raises("bad argument #1 to 'close' (table expected, got string)", srv.close, srv, "cancel")
  srv:close({ cancel = true })
  async.timeout(5, srv.wait, srv)
  T.eq(cleaned, 3, "wait() returned after every handler had ended")
  for i = 1, 3 do
    T.eq(clients[i]:read("l"), nil, "client " .. i .. " sees the end: its stream was closed")
    clients[i]:close()
  end
end)

T.case("server:wait() in a handler does not wait for that handler", function()
  local srv
  srv = assert(async.tcp.listen("127.0.0.1", 0, function(s)
    srv:close()
    srv:wait()
    s:write("bye\n")
  end))
  local c <close> = assert(async.tcp.connect("127.0.0.1", srv:port()))
  T.eq(async.timeout(5, c.read, c, "l"), "bye", "the handler went on")
  async.timeout(5, srv.wait, srv)
end)

T.case("the handler's stream is closed when the handler returns", function()
  local srv = assert(async.tcp.listen("127.0.0.1", 0, function(s) s:write("bye\n") end))
  local c = assert(async.tcp.connect("127.0.0.1", srv:port()))
  T.eq(c:read("a"), "bye\n", "everything then the end")
  srv:close()
end)

T.case("connect to a port nobody listens on: nil, 'Connection refused', 111", function()
  local port = closed_port()
  T.values(T.pack(async.tcp.connect("127.0.0.1", port)), T.pack(nil, "Connection refused", 111),
    "refused")
  T.values(T.pack(async.tcp.connect("localhost", port)), T.pack(nil, "Connection refused", 111),
    "refused through a name")
end)

T.case("connect by name: localhost", function()
  local srv = assert(async.tcp.listen("127.0.0.1", 0, function(s) s:write("by name\n") end))
  local c = assert(async.tcp.connect("localhost", srv:port()))
  T.eq(c:read("l"), "by name", "reached through localhost")
  srv:close()
end)

-- IPv6 on loopback, when the machine has it.
local v6srv = async.tcp.listen("::1", 0, function(s) s:write("over v6\n") end)
if v6srv then
  T.case("IPv6: listen and connect on ::1", function()
    local c = assert(async.tcp.connect("::1", v6srv:port()))
    T.eq(c:read("l"), "over v6", "reply over ::1")
    v6srv:close()
    T.values(T.pack(async.tcp.connect("::1", v6srv:port())), T.pack(nil, "Connection refused", 111),
      "refused after close")
  end)
else
  io.stderr:write("SKIP IPv6 cases: cannot listen on ::1\n")
end

T.case("async.resolve('localhost'): numeric loopback addresses, no duplicates", function()
  local addrs = assert(async.timeout(20, async.resolve, "localhost"))
  T.eq(type(addrs), "table", "a list")
  T.ok(#addrs >= 1, "at least one address")
  local seen, loop = {}, false
  for _, a in ipairs(addrs) do
    T.eq(type(a), "string", "addresses are strings")
    T.eq(seen[a], nil, "duplicate " .. a)
    seen[a] = true
    if a == "127.0.0.1" or a == "::1" then loop = true end
  end
  T.ok(loop, "127.0.0.1 or ::1 in " .. table.concat(addrs, ","))
end)

T.case("async.resolve of numeric addresses returns them", function()
  T.eq(table.concat(assert(async.resolve("127.0.0.1")), ","), "127.0.0.1", "v4")
  T.eq(table.concat(assert(async.resolve("::1")), ","), "::1", "v6")
end)

T.case("async.resolve of a name that does not exist: nil, message, code (and no hang)", function()
  local r = T.pack(async.timeout(30, async.resolve, "no.such.host.invalid"))
  T.eq(r[1], nil, "no list")
  T.eq(type(r[2]), "string", "a message")
  T.contains(r[2], "no.such.host.invalid", "the message names the host")
  T.eq(math.type(r[3]), "integer", "an integer code")
  T.ok(r[3] ~= 0, "a non-zero code")
  T.eq(r.n, 3, "three values")
end)

T.case("async.resolve suspends only its task; 20 lookups at once all answer", function()
  local ticks = 0
  local ticker = async.spawn(function() while true do ticks = ticks + 1 async.sleep(0) end end)
  local tasks = {}
  for i = 1, 20 do tasks[i] = async.spawn(async.resolve, i % 2 == 0 and "localhost" or "127.0.0.1") end
  local results = async.timeout(30, async.gather, tasks)
  ticker:cancel()
  for i = 1, 20 do T.eq(type(results[i]), "table", "lookup " .. i) end
  T.ok(ticks > 0, "other tasks ran meanwhile")
end)

T.case("cancelling tasks waiting in resolve is safe; a timeout on resolve works", function()
  local tasks = {}
  for i = 1, 8 do
    tasks[i] = async.spawn(async.resolve, i % 2 == 0 and "no.such.host.invalid" or "localhost")
  end
  async.sleep(0)
  for _, t in ipairs(tasks) do t:cancel() end
  for _, t in ipairs(tasks) do
    local ok, err = pcall(t.await, t)
    T.ok(ok or async.is_cancelled(err), "cancelled or finished: " .. tostring(err))
  end
  local ok, err = pcall(async.timeout, 0.000001, async.resolve, "localhost")
  T.ok(ok or async.is_timeout(err), "timed out or finished: " .. tostring(err))
  -- the pool still answers
  T.ok(async.timeout(20, async.resolve, "localhost"), "a later lookup")
  -- and a lookup still running at the end of the run must not hold it up
  async.spawn(async.resolve, "another.name.invalid")
end)

T.case("opts.reuseport lets two listeners share a port; both get connections", function()
  local a = assert(async.tcp.listen("127.0.0.1", 0, function(s) s:write("a\n") end, { reuseport = true }))
  local b = assert(async.tcp.listen("127.0.0.1", a:port(), function(s) s:write("b\n") end, { reuseport = true }))
  T.eq(b:port(), a:port(), "the same port")
  local seen = {}
  for _ = 1, 64 do
    local c = assert(async.tcp.connect("127.0.0.1", a:port()))
    local who = c:read("l")
    seen[who] = (seen[who] or 0) + 1
    c:close()
  end
  T.ok(seen.a and seen.b, string.format("both served (a=%s b=%s)", seen.a, seen.b))
  T.eq((seen.a or 0) + (seen.b or 0), 64, "every connection served")
  a:close()
  b:close()
end)

T.case("writing to a peer that left: nil, 'Broken pipe' or 'Connection reset by peer'", function()
  local gone = async.event()
  local srv = assert(async.tcp.listen("127.0.0.1", 0, function(s) s:close() gone:set() end))
  local c = assert(async.tcp.connect("127.0.0.1", srv:port()))
  gone:wait()
  async.sleep(0.05)
  local chunk = string.rep("x", 65536)
  local r
  for _ = 1, 200 do
    r = T.pack(c:write(chunk))
    if r[1] == nil then break end
  end
  T.eq(r[1], nil, "write failed")
  T.ok(r[2] == "Broken pipe" or r[2] == "Connection reset by peer", "message: " .. tostring(r[2]))
  T.ok(r[3] == 32 or r[3] == 104, "errno: " .. tostring(r[3]))
  c:close()
  srv:close()
end)

T.case("a handler reading from a client that left gets the end, then nil", function()
  local got = async.future()
  local srv = assert(async.tcp.listen("127.0.0.1", 0, function(s)
    got:set(s:read("l"), s:read("l"), s:read("a"))
  end))
  local c = assert(async.tcp.connect("127.0.0.1", srv:port()))
  c:write("one\npartial")
  c:close()
  T.values(T.pack(got:await()), T.pack("one", "partial", ""), "what the handler read")
  srv:close()
end)

T.case("<close> on a client stream: the server sees the end", function()
  local got = async.future()
  local srv = assert(async.tcp.listen("127.0.0.1", 0, function(s) got:set(s:read("a")) end))
  do
    local c <close> = assert(async.tcp.connect("127.0.0.1", srv:port()))
    c:write("scoped")
  end
  T.eq(async.timeout(5, got.await, got), "scoped", "data then the end")
  srv:close()
end)

T.case("big transfers both ways at once do not deadlock", function()
  local size = 2 * 1024 * 1024
  local srv = assert(async.tcp.listen("127.0.0.1", 0, function(s)
    local w = async.spawn(function() s:write(string.rep("s", size)) end)
    local got = s:read(size)
    w:await()
    s:write(tostring(#got), "\n")
  end))
  local c = assert(async.tcp.connect("127.0.0.1", srv:port()))
  local w = async.spawn(function() c:write(string.rep("c", size)) end)
  local back = c:read(size)
  w:await()
  T.eq(#back, size, "client received everything")
  T.eq(c:read("l"), tostring(size), "server received everything")
  c:close()
  srv:close()
end)

T.case("Unix sockets: listen, connect, round trip, close", function()
  local path = tmp_socket_path()
  local srv = assert(async.unix.listen(path, echo_handler))
  local c = assert(async.unix.connect(path))
  c:write("over unix\n")
  T.eq(c:read("l"), "over unix", "echoed")
  T.ok(tostring(c):match("^stream %(unix, fd %d+%)$"), "tostring: " .. tostring(c))
  local clients = {}
  for i = 1, 20 do
    clients[i] = async.spawn(function()
      local s = assert(async.unix.connect(path))
      for j = 1, 20 do s:write(i, ":", j, "\n") end
      local n = 0
      for j = 1, 20 do if s:read("l") == i .. ":" .. j then n = n + 1 end end
      s:close()
      return n
    end)
  end
  local total = 0
  for _, n in ipairs(async.gather(clients)) do total = total + n end
  T.eq(total, 400, "20 clients x 20 lines")
  T.values(T.pack(async.unix.listen(path, echo_handler)), T.pack(nil, "Address already in use", 98),
    "the path is taken")
  c:close() -- its handler ends, which wait() waits for
  srv:close()
  srv:wait()
  T.values(T.pack(async.unix.connect(path)), T.pack(nil, "Connection refused", 111),
    "nobody listens after close")
  os.remove(path)
  T.values(T.pack(async.unix.connect(path)), T.pack(nil, "No such file or directory", 2),
    "no such socket")
end)

T.case("Unix sockets: a path too long fails as a value", function()
  local r = T.pack(async.unix.connect("/tmp/" .. string.rep("a", 200)))
  T.eq(r[1], nil, "no stream")
  T.eq(r[2], "File name too long", "message")
  T.eq(r[3], 36, "ENAMETOOLONG")
  local l = T.pack(async.unix.listen("/tmp/" .. string.rep("b", 200), echo_handler))
  T.values(l, T.pack(nil, "File name too long", 36), "listen")
end)

T.case("bad arguments raise standard argument errors", function()
  local h = function() end
  T.raises("bad argument #1 to 'connect' (string expected", function() return async.tcp.connect() end)
  T.raises("bad argument #1 to 'connect' (string expected, got number)", function() return async.tcp.connect(5, 80) end)
  T.raises("bad argument #2 to 'connect' (number expected, got nil)", function() return async.tcp.connect("127.0.0.1") end)
  T.raises("bad argument #2 to 'connect' (number expected, got string)", function() return async.tcp.connect("127.0.0.1", "http") end)
  T.raises("bad argument #2 to 'connect' (number has no integer representation)", function() return async.tcp.connect("127.0.0.1", 1.5) end)
  T.raises("bad argument #1 to 'listen' (string expected, got number)", function() return async.tcp.listen(5, 0, h) end)
  T.raises("bad argument #2 to 'listen' (number expected, got nil)", function() return async.tcp.listen("127.0.0.1") end)
  T.raises("bad argument #2 to 'listen' (number expected, got string)", function() return async.tcp.listen("127.0.0.1", "any", h) end)
  T.raises("bad argument #3 to 'listen' (function expected", function() return async.tcp.listen("127.0.0.1", 0) end)
  T.raises("bad argument #3 to 'listen' (function expected, got number)", function() return async.tcp.listen("127.0.0.1", 0, 5) end)
  T.raises("bad argument #1 to 'connect' (string expected", function() return async.unix.connect() end)
  T.raises("bad argument #1 to 'connect' (string expected, got table)", function() return async.unix.connect({}) end)
  T.raises("bad argument #1 to 'listen' (string expected", function() return async.unix.listen() end)
  T.raises("bad argument #2 to 'listen' (function expected", function() return async.unix.listen("/tmp/x.sock") end)
  T.raises("bad argument #1 to 'resolve' (string expected, got no value)", function() return async.resolve() end)
  T.raises("bad argument #1 to 'resolve' (string expected, got table)", function() return async.resolve({}) end)
  local srv = assert(async.tcp.listen("127.0.0.1", 0, h))
  srv:close()
  do
      T.raises("bad argument #1 to 'port'", function() return srv.port(5) end)
      T.raises("bad argument #1 to 'close'", function() return srv.close({}) end)
      T.raises("bad argument #1 to 'wait'", function() return srv.wait("x") end)
  end
  do
      T.raises("bad argument #4 to 'listen'", function() return async.tcp.listen("127.0.0.1", 0, h, 5) end)
  end
  do
      T.raises("bad argument #2 to 'connect'", function() return async.tcp.connect("127.0.0.1", -1) end)
      T.raises("bad argument #2 to 'connect'", function() return async.tcp.connect("127.0.0.1", 70000) end)
  end
  do
      local ok, s = pcall(async.tcp.listen, "127.0.0.1", 70000, h)
      if ok and s then s:close() end
      T.eq(ok, false, "listen on port 70000 raised")
    end
end)

T.finish()
