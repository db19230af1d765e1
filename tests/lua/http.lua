-- async.http (SPEC §4) against tests/lib/http_server.py started here: every option and response
-- field, every status as a result, failures as values, argument errors, redirects, bodies from
-- and to strings, files and streams, streamed bodies, 500 requests 32 at a time, and
-- cancellation and timeouts that leave no descriptor behind. HTTPS, the trace, --stats, dumps,
-- signals, the end of the run and library loading are in tests/http.bats.
local T = require "testlib"

local server = assert(async.exec({ "python3", "../lib/http_server.py" }, { stdout = "pipe" }))
local port = tonumber(server.stdout:read("l"):match("^port (%d+)$"))
local base = "http://127.0.0.1:" .. port
local http = async.http

-- A port nobody listens on: one the kernel gave us, then closed.
local function closed_port()
  local srv = assert(async.tcp.listen("127.0.0.1", 0, function() end))
  local p = srv:port()
  srv:close()
  srv:wait()
  return p
end

local function echo(res)
  T.eq(res.status, 200, "echo status")
  return (require "cjson").decode(res.body)
end

T.case("GET: status, lower-case headers joined when repeated, body, url, version", function()
  local res = assert(http.get(base .. "/headers"))
  T.eq(res.status, 200, "status")
  T.eq(math.type(res.status), "integer", "status type")
  T.eq(res.headers["x-twice"], "one, two", "repeated header")
  T.eq(res.headers["x-case"], "Mixed", "value as sent")
  T.eq(res.headers["X-Case"], nil, "names are lower-case")
  T.eq(res.headers["content-length"], "1", "content-length")
  T.eq(res.body, "h", "body")
  T.eq(res.url, base .. "/headers", "url")
  T.eq(res.version, "1.1", "version")
end)

T.case("any status is a result", function()
  for _, code in ipairs({ 201, 204, 301, 400, 404, 418, 500, 503 }) do
    local res = assert(http.get(base .. "/status/" .. code, { follow = false }))
    T.eq(res.status, code, "status " .. code)
  end
end)

T.case("methods, headers and string bodies reach the server", function()
  local e = echo(assert(http.post(base .. "/echo", "a=1&b=2", { headers = { ["Content-Type"] = "text/plain", ["X-Empty"] = "" } })))
  T.eq(e.method, "POST", "post method")
  T.eq(e.body, "a=1&b=2", "post body")
  T.eq(e.headers["content-type"], "text/plain", "header sent")
  T.eq(e.headers["x-empty"], "", "empty header sent")
  T.eq(e.headers.expect, nil, "no Expect: 100-continue")
  for _, m in ipairs({ "PUT", "PATCH", "DELETE" }) do
    e = echo(assert(http.request({ url = base .. "/echo", method = m, body = m .. " body" })))
    T.eq(e.method, m, m)
    T.eq(e.body, m .. " body", m .. " body")
  end
  e = echo(assert(http.request({ url = base .. "/echo", method = "DELETE" })))
  T.eq(e.method, "DELETE", "delete without a body")
  e = echo(assert(http.post(base .. "/echo", "")))
  T.eq(e.length, 0, "empty body")
  e = echo(assert(http.post(base .. "/echo", "x", { method = "PUT" })))
  T.eq(e.method, "PUT", "post with opts.method")
  local res = assert(http.request({ url = base .. "/headers", method = "HEAD" }))
  T.eq(res.status, 200, "head status")
  T.eq(res.body, "", "head has no body")
  e = echo(assert(http.get(base .. "/echo", { headers = { ["X-Num"] = 42 } })))
  T.eq(e.headers["x-num"], "42", "number header value")
  T.ok(e.headers["accept-encoding"]:find("gzip"), "compression offered")
end)

T.case("compressed bodies are decoded", function()
  local res = assert(http.get(base .. "/gzip"))
  T.eq(res.headers["content-encoding"], "gzip", "sent compressed")
  T.eq(res.body, ("compressed "):rep(1000), "decoded")
end)

T.case("redirects: followed by default, false, a number, a loop", function()
  local res = assert(http.get(base .. "/redirect/3"))
  T.eq(res.status, 200, "followed")
  T.eq(res.url, base .. "/echo", "url after redirects")
  res = assert(http.get(base .. "/redirect/3", { follow = false }))
  T.eq(res.status, 302, "not followed")
  T.eq(res.headers.location, "/redirect/2", "location")
  T.eq(res.url, base .. "/redirect/3", "url")
  res = assert(http.get(base .. "/redirect/2", { follow = 2 }))
  T.eq(res.status, 200, "two allowed")
  local r, msg, code = http.get(base .. "/redirect/3", { follow = 2 })
  T.eq(r, nil, "three: too many")
  T.contains(msg, "redirects", "message")
  T.eq(code, 47, "CURLE_TOO_MANY_REDIRECTS")
  r, msg, code = http.get(base .. "/loop")
  T.eq(code, 47, "a loop ends after 20")
end)

T.case("failures are values: refused, unsupported scheme, DNS, timeout, empty reply, bad URL", function()
  local r, msg, code = http.get("http://127.0.0.1:" .. closed_port() .. "/")
  T.values(T.pack(r, type(msg), code), T.pack(nil, "string", 7), "refused")
  T.contains(msg, "onnect", "refused message")
  r, msg, code = http.get("ftp://127.0.0.1/")
  T.eq(code, 1, "unsupported protocol")
  T.contains(msg, "ftp", "names the scheme")
  r, msg, code = http.get("http://nonexistent.invalid/")
  T.eq(code, 6, "could not resolve")
  T.contains(msg, "nonexistent.invalid", "names the host")
  local t0 = async.now()
  r, msg, code = http.get(base .. "/slow/5", { timeout = 0.3 })
  T.eq(code, 28, "timed out")
  T.ok(async.now() - t0 < 4, "at the timeout")
  r, msg, code = http.get(base .. "/drop")
  T.eq(r, nil, "dropped")
  T.eq(code, 52, "empty reply")
  r, msg, code = http.get(base .. "/reset")
  T.eq(r, nil, "reset")
  T.eq(code, 56, "receive failure")
  T.contains(msg, "reset", "message")
  r, msg, code = http.get("https://127.0.0.1:" .. port .. "/echo")
  T.eq(r, nil, "TLS to a plain HTTP server")
  T.eq(code, 35, "TLS handshake failed")
  r, msg, code = http.get("http://[::1")
  T.eq(r, nil, "malformed URL")
  T.eq(code, 3, "URL malformed")
end)

T.case("bad arguments raise naming the function and the argument", function()
  T.raises("bad argument #1 to 'request' (table expected", http.request, "http://x/")
  T.raises("bad argument #1 to 'request' (opts.url must be a string)", http.request, {})
  T.raises("bad argument #1 to 'get' (string expected", http.get)
  T.raises("bad argument #2 to 'get' (table expected", http.get, base, 5)
  T.raises("bad argument #2 to 'post' (string, stream or file expected", http.post, base)
  local cases = {
    { { timeout = "soon" }, "opts.timeout must be a positive number" },
    { { timeout = 0 }, "opts.timeout must be a positive number" },
    { { follow = "yes" }, "opts.follow must be a boolean or a number" },
    { { follow = -1 }, "opts.follow must be a boolean or a number" },
    { { headers = "x" }, "opts.headers must be a table" },
    { { headers = { 1 } }, "opts.headers must map names to strings" },
    { { headers = { ["A B"] = "x" } }, "invalid header name" },
    { { headers = { A = "x\r\nB: y" } }, "invalid header value" },
    { { headers = { A = "a\0b" } }, "opts.headers: a header value contains a zero byte" },
    { { headers = { ["X\0A"] = "b" } }, "opts.headers: a header name contains a zero byte" },
    { { method = "GE T" }, "invalid method" },
    { { method = 1 }, "opts.method must be a string" },
    { { body = 5 }, "opts.body must be a string, a stream or a file" },
    { { output = "x" }, "opts.output must be  a stream or a file" },
    { { output = io.stdout, stream = true }, "exclude each other" },
    { { stream = 1 }, "opts.stream must be a boolean" },
    { { cafile = true }, "opts.cafile must be a string" },
    { { insecure = "no" }, "opts.insecure must be a boolean" },
    { { timout = 1 }, "opts.timout is not an option" },
  }
  for _, c in ipairs(cases) do
    T.contains(T.raises(c[2], http.get, base, c[1]), "bad argument #2 to 'get' (opts", "message")
  end
  local f = io.tmpfile()
  f:close()
  T.raises("bad argument #2 to 'post' (body is a closed file)", http.post, base, f)
  T.raises("bad argument #3 to 'post' (opts.output is a closed file", http.post, base, "x", { output = f })
  -- the shorthands' own url and body are their arguments #1 and #2, opts the last one
  T.raises("bad argument #2 to 'post' (body must be a string, a stream or a file)", http.post, base, 5)
  T.raises("bad argument #2 to 'post' (body must be a string, a stream or a file)", http.post, base, {})
  T.raises("bad argument #1 to 'request' (opts.body must be a string,", http.request, { url = base, body = 5 })
  -- curl would take a C string to its first zero byte
  T.raises("bad argument #1 to 'get' (url contains a zero byte)", http.get, base .. "/\0x")
  T.raises("bad argument #1 to 'post' (url contains a zero byte)", http.post, base .. "/\0x", "")
  T.raises("bad argument #1 to 'request' (opts.url contains a zero byte)", http.request, { url = base .. "\0" })
  T.raises("bad argument #2 to 'get' (opts.method contains a zero byte)", http.get, base, { method = "DELETE\0x" })
  T.raises("bad argument #1 to 'request' (opts.method contains a zero byte)", http.request,
    { url = base, method = "G\0T" })
  T.raises("bad argument #3 to 'post' (opts.cafile contains a zero byte)", http.post, base, "", { cafile = "a\0b" })
end)

T.case("option values an __index computes stay alive while they are used", function()
  -- fresh strings nothing else holds, and a collection at each lookup (ASan saw them freed)
  local opts = setmetatable({}, { __index = function(_, k)
    collectgarbage()
    if k == "url" then return base .. "/echo?" .. ("p"):rep(100) end
    if k == "method" then return ("patch"):upper() end
    if k == "cafile" then return ("/nonexistent/"):rep(3) .. "ca.pem" end
  end })
  local e = echo(assert(http.request(opts)))
  T.eq(e.path, "/echo?" .. ("p"):rep(100), "url")
  T.eq(e.method, ("patch"):upper(), "method")
end)

T.case("request bodies from a file (sized) and a stream (chunked)", function()
  local f = io.tmpfile()
  f:write(("0123456789"):rep(10000))
  f:seek("set", 5)
  local e = echo(assert(http.post(base .. "/echo", f)))
  T.eq(e.length, 99995, "the file from its position")
  T.eq(e.headers["content-length"], "99995", "sized")
  f:close()
  local p = assert(async.exec({ "sh", "-c", "printf 'from '; sleep 0.2; printf 'a pipe'" }, { stdout = "pipe" }))
  e = echo(assert(http.request({ url = base .. "/echo", method = "PUT", body = p.stdout })))
  T.eq(e.body, "from a pipe", "stream body, waited for")
  T.eq(e.headers["transfer-encoding"], "chunked", "chunked")
  p:wait()
  p.stdout:close()
end)

T.case("response bodies to a file and to a stream", function()
  local f = io.tmpfile()
  local res = assert(http.get(base .. "/bytes/300000", { output = f }))
  T.eq(res.status, 200, "status")
  T.eq(res.body, nil, "no body in the result")
  T.eq(f:seek("end"), 300000, "in the file")
  f:close()
  local p = assert(async.exec({ "sh", "-c", "sleep 0.3; wc -c" }, { stdin = "pipe", stdout = "pipe" }))
  p.stdin:write("before ")
  res = assert(http.get(base .. "/bytes/1000000", { output = p.stdin }))
  T.eq(res.body, nil, "no body in the result")
  p.stdin:close()
  T.eq(tonumber(p.stdout:read("a")), 1000007, "everything, after what the stream held")
  p:wait()
  p.stdout:close()
end)

T.case("stream = true: the body is a stream read while it arrives", function()
  local res = assert(http.get(base .. "/lines/100000", { stream = true }))
  T.eq(res.status, 200, "status before the body")
  T.eq(res.headers["content-length"] ~= nil, true, "headers")
  local n, last = 0, nil
  for l in res.body:lines() do
    n = n + 1
    last = l
  end
  T.eq(n, 100000, "lines")
  T.eq(last, "line 100000", "last line")
  res.body:close()
  res = assert(http.get(base .. "/bytes/100", { stream = true }))
  T.eq(#res.body:read("a"), 100, "read all")
  res.body:close()
end)

T.case("an output whose reader goes away fails the request, at once", function()
  -- curl is paused on the full pipe when the reader exits: the request must still end
  for i = 1, 5 do
    local p = assert(async.exec({ "sh", "-c", "sleep 0.1; head -c 10 >/dev/null" }, { stdin = "pipe" }))
    local r = T.pack(async.timeout(30, http.get, base .. "/bytes/20000000", { output = p.stdin }))
    T.eq(r[1], nil, "no result " .. i)
    T.eq(r[2], "Broken pipe", "the pipe's error " .. i)
    p:wait()
  end
end)

T.case("a body or output stream closed while curl waits on it ends the request: nil, \"closed\"", function()
  local p = assert(async.exec({ "sleep", "30" }, { stdin = "pipe", stdout = "pipe" }))
  local closer = async.spawn(function() async.sleep(0.2) p.stdout:close() end)
  local t0 = async.now()
  local r = T.pack(async.timeout(20, http.post, base .. "/echo", p.stdout))
  T.eq(r[1], nil, "no result, source")
  T.eq(r[2], "closed", "the message, source")
  T.eq(r[3], 42, "the code, source")
  closer:await()
  -- the output: a pipe nobody reads, full long before 20 MB
  closer = async.spawn(function() async.sleep(0.2) p.stdin:close() end)
  r = T.pack(async.timeout(20, http.get, base .. "/bytes/20000000", { output = p.stdin }))
  T.eq(r[1], nil, "no result, output")
  T.eq(r[2], "closed", "the message, output")
  T.eq(r[3], 23, "the code, output")
  T.ok(async.now() - t0 < 10, "at once")
  closer:await()
  p:kill()
  p:wait()
end)

T.case("a streamed body closed early ends its transfer", function()
  local before = T.fds()
  for _ = 1, 5 do
    local res = assert(http.get(base .. "/bytes/20000000", { stream = true }))
    T.eq(#res.body:read(10), 10, "a bit")
    res.body:close()
  end
  T.fds_back_to(before, "descriptors after", 10)
end)

T.case("a streamed body closed while the server sends nothing ends its transfer at once", function()
  local before = T.fds()
  for _ = 1, 5 do
    local res = assert(http.get(base .. "/stall", { stream = true }))
    T.eq(res.body:read(5), "start", "first bytes")
    res.body:close()
  end
  -- each transfer held its connection and its end of the socket pair until the server's
  -- next bytes, a minute away
  T.fds_back_to(before, "descriptors after", 2)
end)

T.case("500 requests, 32 at a time", function()
  local next_i, ok = 1, 0
  local function worker()
    while next_i <= 500 do
      local i = next_i
      next_i = i + 1
      local e = echo(assert(http.post(base .. "/echo", "n" .. i)))
      if e.body == "n" .. i then ok = ok + 1 end
    end
  end
  local ws = {}
  for k = 1, 32 do ws[k] = async.spawn(worker) end
  async.timeout(60, async.gather, ws)
  T.eq(ok, 500, "answers matched")
end)

T.case("cancellation and timeouts end the transfer at once, leaving no descriptor", function()
  local before = T.fds()
  local ts = {}
  for i = 1, 40 do ts[i] = async.spawn(http.get, base .. "/slow/30") end
  async.sleep(0.3)
  T.ok(T.fds() > before, "connections open")
  for i = 1, 40 do ts[i]:cancel() end
  for i = 1, 40 do T.eq(T.kind(T.fails(ts[i].await, ts[i])), "cancelled", "cancelled") end
  T.fds_back_to(before, "descriptors after cancel") -- connections kept for reuse may close too
  local t0 = async.now()
  T.eq(T.kind(T.fails(async.timeout, 0.2, http.get, base .. "/stall")), "timeout", "async.timeout")
  T.ok(async.now() - t0 < 5, "at once")
  T.eq(T.kind(T.fails(async.timeout, 0.2, http.get, base .. "/slow/30", { stream = true, timeout = 60 })), "timeout", "stream")
  T.fds_back_to(before, "descriptors after timeouts")
  local res = assert(http.get(base .. "/stall", { stream = true }))
  T.eq(res.body:read(5), "start", "first bytes")
  T.eq(T.kind(T.fails(async.timeout, 0.2, res.body.read, res.body, 1)), "timeout", "a read times out")
  res.body:close()
  T.fds_back_to(before, "descriptors after a stalled stream")
end)

server:kill()
server:wait()
server.stdout:close()
T.finish()
