-- Streams (SPEC §4): Lua's file API over pipes and sockets — read with "l", "L", "a" or a
-- count, read_some, lines, write, close, <close> — and their argument errors. The streams
-- come from child processes (async.exec pipes) and loopback TCP connections; the standard
-- streams on fd 0-2 are tested from the shell in tests/io.bats.
local T = require "testlib"

-- A child writing `text` (printf format, so "\n" and pieces work) on a pipe; returns
-- the process and its stdout stream.
local function source(shell)
  local p = assert(async.exec({ "sh", "-c", shell }, { stdout = "pipe" }))
  return p, p.stdout
end

-- `cat` with both ends piped: what is written to p.stdin comes back on p.stdout.
local function cat()
  return assert(async.exec({ "cat" }, { stdin = "pipe", stdout = "pipe" }))
end

-- A connected pair of TCP streams over loopback, and the server (closed by the caller).
local function tcp_pair()
  local accepted = async.queue()
  local srv = assert(async.tcp.listen("127.0.0.1", 0, function(s)
    local done = async.event()
    accepted:put({ s, done })
    done:wait() -- the handler's return would close the stream
  end))
  local c = assert(async.tcp.connect("127.0.0.1", srv:port()))
  local pair = accepted:get()
  return c, pair[1], function() pair[2]:set() srv:close() end
end

T.case('read "l", "L", counts and "a" in turn, then nil at the end', function()
  local p, s = source([[printf 'abc\ndef\nghij']])
  T.eq(s:read("L"), "abc\n", '"L" keeps the newline')
  T.eq(s:read(2), "de", "a count: exactly 2 bytes")
  T.eq(s:read("l"), "f", '"l" drops the newline')
  T.eq(s:read(10), "ghij", "a count past the end: what is left")
  T.eq(s:read(1), nil, "a count at the end: nil")
  T.eq(s:read("a"), "", '"a" at the end: the empty string')
  T.eq(s:read("l"), nil, '"l" at the end: nil')
  T.eq(s:read("L"), nil, '"L" at the end: nil')
  T.values(T.pack(p:wait()), T.pack(0, nil), "printf exits 0")
end)

T.case("read with no format reads a line; the Lua 5.3 '*l' spelling works", function()
  local _, s = source([[printf 'one\ntwo\nthree\n']])
  T.eq(s:read(), "one", "default format")
  T.eq(s:read("*l"), "two", '"*l"')
  T.eq(s:read("*a"), "three\n", '"*a"')
end)

T.case("several formats in one call return one value each", function()
  local _, s = source([[printf 'ab'; sleep 0.05; printf 'cd\nxyz']])
  T.values(T.pack(s:read("l", 2, "a")), T.pack("abcd", "xy", "z"), "l, 2, a")
  local _, s2 = source([[printf 'only\n']])
  -- the results stop at the first that fails, as for files
  T.values(T.pack(s2:read("l", "l", "l")), T.pack("only", nil), "l, l (nil), nothing after")
end)

T.case("a last line without a newline is still a line", function()
  local _, s = source([[printf 'x\nlast']])
  T.eq(s:read("l"), "x", "first")
  T.eq(s:read("l"), "last", "unterminated")
  T.eq(s:read("l"), nil, "end")
end)

T.case("a count waits until that many bytes arrived, across several writes", function()
  local _, s = source([[printf 12; sleep 0.05; printf 3; sleep 0.05; printf 4567]])
  T.eq(s:read(4), "1234", "4 bytes from three writes")
  T.eq(s:read(100), "567", "the rest, then the end")
end)

T.case("read(0) is the empty string while data remains", function()
  local _, s = source([[printf 'x']])
  T.eq(s:read(0), "", "read(0) with data")
  T.eq(s:read(1), "x", "the byte is still there")
end)

T.case("read(0) at the end of the stream is nil, as for files", function()
  local _, s = source([[true]])
  T.eq(s:read("a"), "", "at the end")
  T.eq(s:read(0), nil, "read(0) at the end")
end)

T.case("read_some returns what is there at once, up to max; nil at the end", function()
  local p, s = source([[printf 'abcdef'; exec sleep 5]])
  T.eq(s:read_some(2), "ab", "at most max bytes")
  local t0 = async.now()
  T.eq(s:read_some(), "cdef", "the rest that is available, without waiting for more")
  T.ok(async.now() - t0 < 2, "read_some did not wait for the writer to finish")
  p:kill("KILL")
  T.eq(s:read_some(), nil, "end of stream")
  T.eq(s:read_some(), nil, "still the end")
  p:wait()
end)

T.case("read_some waits for the first bytes", function()
  local _, s = source([[sleep 0.1; printf late]])
  local t0 = async.now()
  T.eq(s:read_some(100), "late", "the late data")
  T.ok(async.now() - t0 >= 0.05, "it waited for the data")
end)

T.case("read_some default max is 65536", function()
  local p = cat()
  local big = string.rep("z", 200000)
  local w = async.spawn(function() p.stdin:write(big) p.stdin:close() end)
  local got, chunks = {}, 0
  while true do
    local c = p.stdout:read_some()
    if not c then break end
    T.ok(#c >= 1 and #c <= 65536, "chunk size " .. #c)
    chunks = chunks + 1
    got[#got + 1] = c
  end
  w:await()
  T.eq(table.concat(got), big, "everything, in order")
  T.ok(chunks >= 4, "at least 4 chunks for 200000 bytes")
end)

T.case("lines() iterates lines; lines('L') keeps newlines; lines(n) reads counts", function()
  local _, s = source([[printf 'a\nb\n\nc']])
  local got = {}
  for l in s:lines() do got[#got + 1] = "[" .. l .. "]" end
  T.eq(table.concat(got), "[a][b][][c]", "lines()")
  local _, s2 = source([[printf '1\n2\n']])
  got = {}
  for l in s2:lines("L") do got[#got + 1] = l end
  T.eq(table.concat(got, "|"), "1\n|2\n", "lines('L')")
  local _, s3 = source([[printf 'abcdefg']])
  got = {}
  for c in s3:lines(3) do got[#got + 1] = c end
  T.eq(table.concat(got, "|"), "abc|def|g", "lines(3)")
end)

T.case("a megabyte through cat: write waits while the pipe is full, nothing lost", function()
  local p = cat()
  local parts = {}
  for i = 1, 24000 do parts[i] = string.format("%06d abcdefghijklmnopqrstuvwxyz0123456789\n", i) end
  local data = table.concat(parts)
  T.ok(#data > 1000000, "about a megabyte")
  local w = async.spawn(function()
    T.same(p.stdin:write(data), p.stdin, "write returns the stream")
    p.stdin:close()
  end)
  local n, bad = 0, 0
  for l in p.stdout:lines() do
    n = n + 1
    if l ~= parts[n]:sub(1, -2) then bad = bad + 1 end
  end
  w:await()
  T.eq(n, 24000, "every line came back")
  T.eq(bad, 0, "in order, unchanged")
  T.values(T.pack(p:wait()), T.pack(0, nil), "cat exits 0")
end)

T.case("write takes several values, numbers included, and chains", function()
  local p = cat()
  T.same(p.stdin:write("a", 1, 2.5, "\n"):write("b"):write(), p.stdin, "chained writes")
  p.stdin:close()
  T.eq(p.stdout:read("a"), "a12.5\nb", "what cat echoed")
  p:wait()
end)

T.case("write to a pipe whose reader is gone: nil, 'Broken pipe', 32 (no SIGPIPE)", function()
  local p = assert(async.exec({ "true" }, { stdin = "pipe" }))
  p:wait()
  local r = T.pack(p.stdin:write(string.rep("x", 100000)))
  T.values(r, T.pack(nil, "Broken pipe", 32), "write result")
  p.stdin:close()
end)

T.case("setvbuf with a size drains first; a failed drain is kept for the next close", function()
  local p = assert(async.exec({ "true" }, { stdin = "pipe" }))
  p:wait()
  T.eq(p.stdin:write("buffered"), p.stdin, "write buffers")
  T.eq(p.stdin:setvbuf("full", 100), true, "setvbuf")
  T.values(T.pack(p.stdin:close()), T.pack(nil, "Broken pipe", 32), "close returns the drain's error")
end)

T.case("close returns true, is idempotent, and a closed stream refuses use", function()
  local p = cat()
  T.eq(p.stdin:close(), true, "close")
  T.eq(p.stdin:close(), true, "second close")
  T.contains(tostring(p.stdin), "closed", "tostring says closed")
  T.raises("attempt to use a closed stream", function() p.stdin:write("x") end)
  T.raises("attempt to use a closed stream", function() p.stdin:read() end)
  T.raises("attempt to use a closed stream", function() p.stdin:read_some() end)
  T.raises("attempt to use a closed stream", function() p.stdin:lines() end)
  T.eq(p.stdout:read("a"), "", "cat saw the end of its input")
  T.values(T.pack(p:wait()), T.pack(0, nil), "cat exits 0")
end)

T.case("<close> closes the stream at the end of the scope", function()
  local p = cat()
  do
    local w <close> = p.stdin
    w:write("scoped\n")
  end
  T.contains(tostring(p.stdin), "closed", "closed by <close>")
  T.eq(p.stdout:read("a"), "scoped\n", "cat got its data and the end")
  T.values(T.pack(p:wait()), T.pack(0, nil), "cat exits 0")
end)

T.case("<close> closes on an error too", function()
  local p = cat()
  local ok = pcall(function()
    local w <close> = p.stdin
    error("boom")
  end)
  T.eq(ok, false, "the error went through")
  T.contains(tostring(p.stdin), "closed", "closed by <close> on error")
  T.eq(p.stdout:read("a"), "", "cat saw the end")
  p:wait()
end)

T.case("closing a stream another task reads from wakes it with 'Bad file descriptor'", function()
  local p = cat()
  local r = async.spawn(function() return p.stdout:read("l") end)
  async.sleep(0.02)
  T.eq(r:status(), "pending", "the reader waits")
  p.stdout:close()
  local res = T.pack(r:await())
  T.values(res, T.pack(nil, "Bad file descriptor", 9), "the reader's result")
  p.stdin:close()
  p:wait()
end)

T.case("a cancelled reader loses nothing: the next read gets the data", function()
  local p = cat()
  local r = async.spawn(function() return p.stdout:read("l") end)
  async.sleep(0.02)
  r:cancel()
  T.eq(T.kind(T.fails(r.await, r)), "cancelled", "the reader was cancelled")
  p.stdin:write("kept\nsecond\n")
  T.eq(p.stdout:read("l"), "kept", "first line still there")
  T.eq(async.timeout(5, p.stdout.read, p.stdout, "l"), "second", "second line")
  p.stdin:close()
  p:wait()
end)

T.case("a read times out with async.timeout, and the stream stays usable", function()
  local p = cat()
  local err = T.fails(async.timeout, 0.05, p.stdout.read, p.stdout, "l")
  T.eq(T.kind(err), "timeout", "timed out")
  p.stdin:write("after\n")
  T.eq(p.stdout:read("l"), "after", "usable after the timeout")
  p.stdin:close()
  p:wait()
end)

T.case("two tasks reading lines from one stream each get whole lines", function()
  local p = cat()
  local got = {}
  local function reader()
    for l in p.stdout:lines() do got[#got + 1] = l end
  end
  local r1, r2 = async.spawn(reader), async.spawn(reader)
  for i = 1, 200 do p.stdin:write("line", i, "\n") end
  p.stdin:close()
  r1:await()
  r2:await()
  table.sort(got, function(a, b) return tonumber(a:sub(5)) < tonumber(b:sub(5)) end)
  T.eq(#got, 200, "200 lines in all")
  for i = 1, 200 do T.eq(got[i], "line" .. i, "line " .. i) end
  p:wait()
end)

T.case("TCP streams: both directions, half-close by closing, read_some, lines", function()
  local c, s, done = tcp_pair()
  c:write("hello\n", "world\n")
  T.eq(s:read("l"), "hello", "server reads")
  T.eq(s:read_some(), "world\n", "read_some gets the rest")
  s:write(string.rep("y", 300000))
  T.eq(#c:read(300000), 300000, "300000 bytes back")
  c:close()
  T.eq(s:read("a"), "", "end of stream after the client closed")
  T.eq(s:read("l"), nil, "nil after the end")
  done()
end)

T.case("tostring names the stream and its descriptor", function()
  local p = cat()
  T.ok(tostring(p.stdout):match("^stream %(pipe, fd %d+%)$"), "tostring: " .. tostring(p.stdout))
  local c, _, done = tcp_pair()
  T.ok(tostring(c):match("^stream %(tcp, fd %d+%)$"), "tostring: " .. tostring(c))
  c:close()
  done()
  p.stdin:close()
  p:wait()
end)

T.case("the standard streams are opened lazily, once", function()
  T.eq(rawget(async, "stdin"), nil, "async.stdin not opened before use")
  T.eq(rawget(async, "stderr"), nil, "async.stderr not opened before use")
  local e = async.stderr
  T.ok(tostring(e):match("^stream %(stderr, fd %d+%)$"), "tostring: " .. tostring(e))
  T.same(async.stderr, e, "the same stream each time")
  T.same(e:write(""), e, "write returns the stream")
end)

T.case("bad arguments raise standard argument errors", function()
  local p = cat()
  local s, w = p.stdout, p.stdin
  T.raises("bad argument #1 to 'read' (invalid format)", function() return s:read({}) end)
  T.raises("bad argument #1 to 'read' (invalid format)", function() return s:read("x") end)
  T.raises("bad argument #2 to 'read' (invalid format)", function() return s:read("l", true) end)
  T.raises("bad argument #1 to 'read' (number has no integer representation)",
    function() return s:read(1.5) end)
  T.raises("bad argument #1 to 'read_some' (number expected, got string)",
    function() return s:read_some("x") end)
  T.raises("bad argument #1 to 'read_some'", function() return s:read_some(0) end)
  T.raises("bad argument #1 to 'read_some'", function() return s:read_some(-3) end)
  T.raises("bad argument #1 to 'write' (string expected, got table)", function() return w:write({}) end)
  T.raises("bad argument #2 to 'write' (string expected, got nil)", function() return w:write("a", nil) end)
  T.raises("bad argument #1 to 'write' (string expected, got boolean)", function() return w:write(true) end)
  T.raises("bad argument #1 to 'read' (async.Stream expected, got number)", function() return s.read(5) end)
  T.raises("bad argument #1 to 'write' (async.Stream expected, got string)", function() return s.write("x") end)
  T.raises("bad argument #1 to 'close' (async.Stream expected, got number)", function() return s.close(5) end)
  T.raises("bad argument #1 to 'lines' (async.Stream expected, got no value)", function() return s.lines() end)
  T.raises("bad argument #1 to 'read_some' (async.Stream expected, got table)",
    function() return s.read_some({}) end)
  -- an invalid lines format is reported when the iterator reads, as for files
  local it = s:lines("x")
  T.raises("invalid format", function() return it() end)
  w:close()
  T.eq(s:read("a"), "", "the stream is still fine")
  p:wait()
end)

T.finish()
