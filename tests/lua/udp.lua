-- async.udp inside one asyncrun (SPEC §4): bind, sendto/recvfrom, connect/send/recv, port,
-- close, IPv4 and IPv6, the failures as values (refused, too long, unresolvable, family),
-- 1,000 datagrams with none lost, cancellation with descriptor counts, close waking a recv,
-- argument errors. Real peers (a Python echo), name lookups and diagnostics: tests/udp.bats.
local T = require "testlib"

local function has_ipv6()
  local s = async.udp.bind("::1", 0)
  if s then s:close() end
  return s ~= nil
end

-- A port on 127.0.0.1 with nobody behind it: one the kernel gave us, then closed.
local function closed_port()
  local s = assert(async.udp.bind("127.0.0.1", 0))
  local port = s:port()
  s:close()
  return port
end

T.case("bind on 127.0.0.1:0: a kernel port, a name for tostring; sendto/recvfrom both ways", function()
  local a <close> = assert(async.udp.bind("127.0.0.1", 0))
  local b <close> = assert(async.udp.bind("127.0.0.1", 0))
  T.eq(math.type(a:port()), "integer", "port")
  T.ok(a:port() > 0 and a:port() ~= b:port(), "two kernel ports")
  T.ok(tostring(a):match("^udp %(fd %d+%)$"), "tostring: " .. tostring(a))
  T.values(T.pack(a:sendto("ping", "127.0.0.1", b:port())), { n = 1, true }, "sendto")
  T.values(T.pack(b:recvfrom()), { n = 3, "ping", "127.0.0.1", a:port() }, "recvfrom")
  T.ok(b:sendto("pong", "127.0.0.1", a:port()), "reply")
  T.values(T.pack(a:recvfrom()), { n = 3, "pong", "127.0.0.1", b:port() }, "the reply")
end)

T.case("binary data, empty datagrams, and 65,507 bytes go through whole; 65,508 is too long", function()
  local a <close> = assert(async.udp.bind("127.0.0.1", 0))
  local bin = "\0\1\2\255 zero\0bytes\r\n"
  assert(a:sendto(bin, "127.0.0.1", a:port()))
  T.eq(a:recvfrom(), bin, "binary")
  assert(a:sendto("", "127.0.0.1", a:port()))
  T.eq(a:recvfrom(), "", "an empty datagram")
  local big = string.rep("0123456789abcdef", 4094) .. "xyz" -- 65,507 bytes
  T.eq(#big, 65507, "size")
  T.ok(a:sendto(big, "127.0.0.1", a:port()), "the largest datagram")
  T.eq(a:recvfrom(), big, "received whole")
  T.values(T.pack(a:sendto(big .. "!", "127.0.0.1", a:port())), { n = 3, nil, "Message too long", 90 },
    "one byte more")
  assert(a:connect("127.0.0.1", a:port()))
  T.values(T.pack(a:send(big .. "!")), { n = 3, nil, "Message too long", 90 }, "send too")
  T.ok(a:send(12345), "a number is sent as its text")
  T.eq(a:recv(), "12345", "received")
end)

T.case("recvfrom(max) and recv(max) cut a longer datagram to max bytes", function()
  local a <close> = assert(async.udp.bind("127.0.0.1", 0))
  assert(a:sendto("abcdefgh", "127.0.0.1", a:port()))
  T.values(T.pack(a:recvfrom(3)), { n = 3, "abc", "127.0.0.1", a:port() }, "recvfrom(3)")
  assert(a:sendto("abcdefgh", "127.0.0.1", a:port()))
  T.eq(a:recv(5), "abcde", "recv(5)")
  assert(a:sendto("abc", "127.0.0.1", a:port()))
  T.eq(a:recv(1000000), "abc", "a max above the largest datagram")
end)

T.case("localhost: bind and sendto without a lookup; a numeric string port as arg[1] gives", function()
  local a <close> = assert(async.udp.bind("localhost", "0"))
  local b <close> = assert(async.udp.bind(nil, 0))
  T.ok(b:sendto("hi", "localhost", tostring(a:port())), "sendto localhost")
  T.values(T.pack(a:recvfrom()), { n = 3, "hi", "127.0.0.1", b:port() }, "from the dual-stack socket, as IPv4")
end)

T.case("connect: send and recv with the peer; datagrams from others are not received", function()
  local a <close> = assert(async.udp.bind("127.0.0.1", 0))
  local b <close> = assert(async.udp.bind("127.0.0.1", 0))
  local other <close> = assert(async.udp.bind("127.0.0.1", 0))
  T.values(T.pack(a:connect("127.0.0.1", b:port())), { n = 1, true }, "connect")
  T.ok(a:send("to b"), "send")
  T.values(T.pack(b:recvfrom()), { n = 3, "to b", "127.0.0.1", a:port() }, "b got it")
  assert(other:sendto("intruder", "127.0.0.1", a:port()))
  assert(b:sendto("from b", "127.0.0.1", a:port()))
  T.eq(a:recv(), "from b", "only the peer's datagram")
  assert(a:connect("localhost", other:port()))
  assert(other:sendto("now other", "127.0.0.1", a:port()))
  T.eq(a:recv(), "now other", "connect again changes the peer")
end)

T.case("a connected socket whose peer is gone: send, then recv says Connection refused", function()
  local a <close> = assert(async.udp.bind("127.0.0.1", 0))
  assert(a:connect("127.0.0.1", closed_port()))
  T.ok(a:send("anyone?"), "the send itself succeeds")
  T.values(T.pack(async.timeout(10, a.recv, a)), { n = 3, nil, "Connection refused", 111 }, "recv")
  -- the error is reported once; the socket goes on
  assert(a:connect("127.0.0.1", a:port()))
  assert(a:send("me"))
  T.eq(a:recv(), "me", "usable after")
end)

T.case("failures are values: unresolvable host, port in use, foreign address, wrong family", function()
  local a <close> = assert(async.udp.bind("127.0.0.1", 0))
  local r = T.pack(async.timeout(30, a.sendto, a, "x", "no.such.host.invalid", 9))
  T.eq(r.n, 3, "three values")
  T.eq(r[1], nil, "nil")
  T.contains(r[2], "no.such.host.invalid: ", "the message names the host")
  T.eq(math.type(r[3]), "integer", "a code")
  r = T.pack(async.timeout(30, async.udp.bind, "no.such.host.invalid", 0))
  T.eq(r[1], nil, "bind")
  T.contains(r[2], "no.such.host.invalid: ", "bind's message names the host")
  r = T.pack(async.timeout(30, a.connect, a, "no.such.host.invalid", 9))
  T.contains(r[2], "no.such.host.invalid: ", "connect's message names the host")
  T.values(T.pack(async.udp.bind("127.0.0.1", a:port())), { n = 3, nil, "Address already in use", 98 },
    "a port in use")
  T.values(T.pack(async.udp.bind("192.0.2.1", 0)), { n = 3, nil, "Cannot assign requested address", 99 },
    "an address not ours")
  T.values(T.pack(a:sendto("x", "::1", 9)),
    { n = 3, nil, "::1: Address family not supported by protocol", 97 }, "IPv6 from an IPv4 socket")
  T.values(T.pack(a:connect("::1", 9)),
    { n = 3, nil, "::1: Address family not supported by protocol", 97 }, "connect too")
end)

T.case("IPv6: ::1 both ways, and a dual-stack socket (nil host) reached over IPv4 and IPv6", function()
  if not has_ipv6() then
    io.stderr:write("udp.lua: no ::1 here, IPv6 case skipped\n")
    return
  end
  local a <close> = assert(async.udp.bind("::1", 0))
  local b <close> = assert(async.udp.bind("::", 0))
  local any <close> = assert(async.udp.bind(nil, 0))
  local v4 <close> = assert(async.udp.bind("127.0.0.1", 0))
  assert(a:sendto("six", "::1", b:port()))
  T.values(T.pack(b:recvfrom()), { n = 3, "six", "::1", a:port() }, "::1 to ::")
  assert(b:sendto("back", "::1", a:port()))
  T.values(T.pack(a:recvfrom()), { n = 3, "back", "::1", b:port() }, "back to ::1")
  assert(a:sendto("v6", "::1", any:port()))
  T.values(T.pack(any:recvfrom()), { n = 3, "v6", "::1", a:port() }, "dual over IPv6")
  assert(v4:sendto("v4", "127.0.0.1", any:port()))
  T.values(T.pack(any:recvfrom()), { n = 3, "v4", "127.0.0.1", v4:port() }, "dual over IPv4")
  assert(any:sendto("reply", "127.0.0.1", v4:port()))
  T.eq(v4:recv(), "reply", "dual replies over IPv4")
  T.values(T.pack(a:sendto("x", "127.0.0.1", v4:port())),
    { n = 3, nil, "127.0.0.1: Address family not supported by protocol", 97 }, "IPv4 from ::1")
  local l <close> = assert(async.udp.bind("::1", 0))
  assert(a:sendto("lo", "localhost", l:port()))
  T.eq(l:recv(), "lo", "localhost is ::1 for a socket on ::1")
  assert(a:connect("::1", l:port()))
  assert(a:send("connected"))
  T.eq(l:recv(), "connected", "connect over IPv6")
end)

T.case("1,000 datagrams through an echo task, 100 in flight at most: none lost, none twice", function()
  local srv <close> = assert(async.udp.bind("127.0.0.1", 0))
  local echo = async.spawn(function()
    while true do
      local data, host, port = srv:recvfrom()
      if not data then return end
      assert(srv:sendto(data, host, port))
    end
  end)
  local c <close> = assert(async.udp.bind("127.0.0.1", 0))
  local seen, count, sent = {}, 0, 0
  while count < 1000 do
    while sent < 1000 and sent - count < 100 do
      sent = sent + 1
      assert(c:sendto("datagram " .. sent, "127.0.0.1", srv:port()))
    end
    local data = assert(async.timeout(10, c.recvfrom, c))
    local n = tonumber(data:match("^datagram (%d+)$"))
    T.ok(n and not seen[n], "a new datagram: " .. data)
    seen[n], count = true, count + 1
  end
  T.eq(count, 1000, "all echoed")
  srv:close()
  T.values(T.pack(echo:await()), { n = 0 }, "the echo task ends at close")
end)

T.case("a waiting recvfrom suspends only its task; close wakes it with nil, 'closed'", function()
  local s = assert(async.udp.bind("127.0.0.1", 0))
  local ticks = 0
  local ticker = async.spawn(function()
    while true do async.sleep(0.001); ticks = ticks + 1 end
  end)
  local waiters = {}
  for i = 1, 2 do waiters[i] = async.spawn(function() return s:recvfrom() end) end
  async.sleep(0.05)
  T.ok(ticks > 0, "the ticker ran while recvfrom waited")
  T.eq(waiters[1]:done(), false, "still waiting")
  s:close()
  for i = 1, 2 do T.values(T.pack(waiters[i]:await()), { n = 2, nil, "closed" }, "waiter " .. i) end
  ticker:cancel()
  local r = async.spawn(function() return s:recv() end)
  T.values(T.pack(r:await()), { n = 2, nil, "closed" }, "recv after close")
  T.values(T.pack(s:sendto("x", "127.0.0.1", 9)), { n = 2, nil, "closed" }, "sendto after close")
  T.values(T.pack(s:send("x")), { n = 2, nil, "closed" }, "send after close")
  T.values(T.pack(s:connect("127.0.0.1", 9)), { n = 2, nil, "closed" }, "connect after close")
  T.values(T.pack(s:port()), { n = 2, nil, "closed" }, "port after close")
  T.eq(s:close(), true, "close twice")
  T.eq(tostring(s), "udp (closed)", "tostring")
  do local _ <close> = s end -- <close> after close
  s = nil
  collectgarbage() -- __gc after close
end)

T.case("two tasks waiting on one socket each get a datagram", function()
  local s <close> = assert(async.udp.bind("127.0.0.1", 0))
  local t1 = async.spawn(function() return s:recv() end)
  local t2 = async.spawn(function() return s:recv() end)
  async.sleep(0.01)
  assert(s:sendto("one", "127.0.0.1", s:port()))
  assert(s:sendto("two", "127.0.0.1", s:port()))
  local got = { t1:await(), t2:await() }
  table.sort(got)
  T.eq(table.concat(got, ","), "one,two", "both delivered")
end)

T.case("cancelling tasks waiting in recvfrom and recv: sockets intact, no descriptor left", function()
  local before = T.fds()
  local socks, tasks = {}, {}
  for i = 1, 20 do
    socks[i] = assert(async.udp.bind("127.0.0.1", 0))
    tasks[i] = async.spawn(function()
      if i % 2 == 0 then return socks[i]:recv() end
      return socks[i]:recvfrom()
    end)
  end
  async.sleep(0.01)
  for i = 1, 20 do tasks[i]:cancel() end
  for i = 1, 20 do
    local ok, err = pcall(tasks[i].await, tasks[i])
    T.ok(not ok and async.is_cancelled(err), "task " .. i .. " cancelled")
  end
  -- the socket still works: a datagram sent after the cancellation is received
  assert(socks[1]:sendto("after", "127.0.0.1", socks[1]:port()))
  T.eq(socks[1]:recv(), "after", "usable after a cancelled recv")
  local ok, err = pcall(async.timeout, 0.02, socks[2].recvfrom, socks[2])
  T.ok(not ok and async.is_timeout(err), "a timeout on recvfrom: " .. tostring(err))
  for i = 1, 20 do socks[i]:close() end
  T.eq(T.fds(), before, "descriptors after")
end)

T.case("a cancelled lookup leaves nothing: bind and sendto on a name, cancelled at once", function()
  local before = T.fds()
  local s <close> = assert(async.udp.bind("127.0.0.1", 0))
  local tasks = {}
  for i = 1, 10 do
    tasks[i] = async.spawn(function()
      if i % 2 == 0 then return async.udp.bind("name" .. i .. ".invalid", 0) end
      return s:sendto("x", "name" .. i .. ".invalid", 9)
    end)
  end
  async.sleep(0) -- each is in its lookup now
  for i = 1, 10 do tasks[i]:cancel() end
  for i = 1, 10 do T.ok(not pcall(tasks[i].await, tasks[i]), "cancelled " .. i) end
  s:close()
  -- a lookup already in getaddrinfo goes on in its worker, which may hold a socket to the
  -- name server until glibc gives up (no name server answers here): wait for that
  T.fds_back_to(before, "descriptors after", 30)
end)

T.case("argument errors name the function and the argument", function()
  local s <close> = assert(async.udp.bind("127.0.0.1", 0))
  T.raises("bad argument #1 to 'bind' (string expected, got table)", function() return async.udp.bind({}, 0) end)
  T.raises("bad argument #2 to 'bind' (number expected, got no value)", function() return async.udp.bind("127.0.0.1") end)
  T.raises("bad argument #2 to 'bind' (port must be 0 to 65535, got 65536)", function() return async.udp.bind(nil, 65536) end)
  T.raises("bad argument #2 to 'bind' (number has no integer representation)", function() return async.udp.bind(nil, 1.5) end)
  T.raises("bad argument #2 to 'bind' (number expected, got string)", function() return async.udp.bind(nil, "x1") end)
  T.raises("bad argument #1 to 'sendto' (string expected, got nil)", function() return s:sendto(nil, "127.0.0.1", 9) end)
  T.raises("bad argument #2 to 'sendto' (string expected, got no value)", function() return s:sendto("x") end)
  T.raises("bad argument #3 to 'sendto' (port must be 0 to 65535, got -1)", function() return s:sendto("x", "127.0.0.1", -1) end)
  T.raises("bad argument #1 to 'connect' (string expected, got nil)", function() return s:connect(nil, 9) end)
  T.raises("bad argument #2 to 'connect' (number expected, got no value)", function() return s:connect("127.0.0.1") end)
  T.raises("bad argument #1 to 'send' (string expected, got table)", function() return s:send({}) end)
  T.raises("bad argument #1 to 'recv' (size must be 1 or more, got 0)", function() return s:recv(0) end)
  T.raises("bad argument #1 to 'recvfrom' (number expected, got table)", function() return s:recvfrom({}) end)
  T.raises("bad argument #1 to 'recv' (async.UDP expected, got table)", function() return s.recv({}) end)
  T.raises("attempt to suspend inside a non-yieldable call to 'string.gsub'", function()
    return string.gsub("a", "a", function() return s:recv() end)
  end)
end)

T.finish()
