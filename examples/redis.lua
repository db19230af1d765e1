-- A small Redis client over async.tcp: commands go out in RESP, replies are parsed back,
-- and a pipeline writes a whole batch while another task reads the replies in order.
--
--   asyncrun examples/redis.lua [PORT [COUNT [HOST]]]
--
-- As a script it pipelines COUNT (default 10000) SETs and then COUNT GETs to the
-- redis-server at HOST:PORT (default 127.0.0.1:6379) on one connection, checks every reply,
-- tries each reply type once, deletes its keys and prints a one-line summary; any mismatch
-- is an error (exit 1). As a module (`require "redis"` with examples/ on LUA_PATH):
--   local redis = require "redis"
--   local db = assert(redis.connect("127.0.0.1", 6379))
--   db:call("SET", "k", "v")            --> "OK"
--   db:pipeline({ { "GET", "k" }, { "INCR", "n" } })  --> { "v", 1, n = 2 }
--   db:close()
-- Replies: simple strings and bulk strings are Lua strings, integers are integers, a null
-- bulk or array is redis.null, arrays are tables with a field n, and an error reply is
-- { err = "ERR message" } (call() raises it instead).
local redis = {}

-- The null bulk string or array (GET of a missing key).
redis.null = setmetatable({}, { __tostring = function() return "redis.null" end })

local Client = {}
Client.__index = Client

-- One command in RESP: an array of bulk strings.
local function encode(cmd)
  local out = { "*", #cmd, "\r\n" }
  for i = 1, #cmd do
    local a = tostring(cmd[i])
    out[#out + 1] = "$" .. #a .. "\r\n"
    out[#out + 1] = a
    out[#out + 1] = "\r\n"
  end
  return table.concat(out)
end

-- Reads one reply from stream s (nested arrays included).
local function read_reply(s)
  local line, err = s:read("l")
  if not line then error("redis: " .. (err or "connection closed by the server"), 0) end
  if line:sub(-1) ~= "\r" then error("redis: protocol error: line without CR: " .. line, 0) end
  local kind, rest = line:sub(1, 1), line:sub(2, -2)
  if kind == "+" then
    return rest
  elseif kind == "-" then
    return { err = rest }
  elseif kind == ":" then
    return math.tointeger(tonumber(rest)) or error("redis: protocol error: bad integer " .. rest, 0)
  elseif kind == "$" then
    local n = math.tointeger(tonumber(rest))
    if not n then error("redis: protocol error: bad length " .. rest, 0) end
    if n < 0 then return redis.null end
    local data = s:read(n + 2)
    if not data or #data ~= n + 2 or data:sub(-2) ~= "\r\n" then
      error("redis: protocol error: short bulk string", 0)
    end
    return data:sub(1, n)
  elseif kind == "*" then
    local n = math.tointeger(tonumber(rest))
    if not n then error("redis: protocol error: bad array length " .. rest, 0) end
    if n < 0 then return redis.null end
    local t = { n = n }
    for i = 1, n do t[i] = read_reply(s) end
    return t
  end
  error("redis: protocol error: unexpected reply " .. line, 0)
end

-- redis.connect(host, port) -> client | nil, message, code
function redis.connect(host, port)
  local s, err, code = async.tcp.connect(host or "127.0.0.1", port or 6379)
  if not s then return nil, err, code end
  return setmetatable({ stream = s }, Client)
end

-- Sends every command of cmds (a list of argument lists) and returns their replies in
-- order, as a list with n. The writer runs in its own task, so a big batch never waits for
-- the server to read while the server waits for us to read its replies.
function Client:pipeline(cmds)
  local s = self.stream
  local writer = async.spawn(function()
    local batch = {}
    for i = 1, #cmds do
      batch[#batch + 1] = encode(cmds[i])
      if #batch == 1000 or i == #cmds then
        local ok, err = s:write(table.concat(batch))
        if not ok then error("redis: write: " .. tostring(err), 0) end
        batch = {}
      end
    end
  end)
  writer.name = "redis-writer"
  local replies = { n = #cmds }
  local ok, err = pcall(function()
    for i = 1, #cmds do replies[i] = read_reply(s) end
  end)
  if not ok then
    writer:cancel()
    pcall(writer.await, writer)
    error(err, 0)
  end
  writer:await()
  return replies
end

-- One command; an error reply is raised as "redis: ERR ...".
function Client:call(...)
  local r = self:pipeline({ { ... } })[1]
  if type(r) == "table" and r.err then error("redis: " .. r.err, 2) end
  return r
end

function Client:close()
  self.stream:close()
end

Client.__close = Client.close

-- The demonstration and check run when this file is the script.
local function main(port, count, host)
  port = math.tointeger(tonumber(port or 6379)) or error("bad port " .. tostring(port), 0)
  count = math.tointeger(tonumber(count or 10000)) or error("bad count " .. tostring(count), 0)
  host = host or "127.0.0.1"
  local db <close> = assert(redis.connect(host, port))
  math.randomseed(os.time())
  local prefix = ("asyncrun:%d:%d:"):format(os.time(), math.random(1, 1e9))

  local cmds = {}
  for i = 1, count do cmds[#cmds + 1] = { "SET", prefix .. i, "value " .. i } end
  for i = 1, count do cmds[#cmds + 1] = { "GET", prefix .. i } end
  local t0 = async.now()
  local replies = db:pipeline(cmds)
  local elapsed = async.now() - t0
  assert(replies.n == 2 * count, "reply count")
  for i = 1, count do
    if replies[i] ~= "OK" then error(("SET %d: %s"):format(i, tostring(replies[i])), 0) end
    local got = replies[count + i]
    if got ~= "value " .. i then error(("GET %d: %s"):format(i, tostring(got)), 0) end
  end

  -- one of each reply type, and a value no line-based parser would survive
  local binary = "a\r\nb\0c\n$3\r\n*1\r\n" .. string.rep("\255", 3)
  assert(db:call("SET", prefix .. "bin", binary) == "OK", "SET binary")
  assert(db:call("GET", prefix .. "bin") == binary, "GET binary")
  assert(db:call("INCRBY", prefix .. "n", 41) == 41, "INCRBY")
  assert(db:call("INCR", prefix .. "n") == 42, "INCR")
  assert(db:call("GET", prefix .. "missing") == redis.null, "null bulk")
  local list = db:call("MGET", prefix .. "1", prefix .. "missing", prefix .. "n")
  assert(list.n == 3 and list[1] == "value 1" and list[2] == redis.null and list[3] == "42", "MGET")
  local bad = db:pipeline({ { "INCR", prefix .. "1" } })[1]
  assert(type(bad) == "table" and bad.err:match("^ERR"), "error reply")
  local ok, err = pcall(db.call, db, "NOSUCHCOMMAND")
  assert(not ok and tostring(err):find("redis: ERR", 1, true), "call raises error replies")
  assert(db:call("PING") == "PONG", "the connection is still in step after the errors")

  -- clean up: DEL in batches of 1000 keys
  local dels, keys = {}, {}
  for i = 1, count do
    keys[#keys + 1] = prefix .. i
    if #keys == 1000 or i == count then
      dels[#dels + 1] = { "DEL", table.unpack(keys) }
      keys = {}
    end
  end
  dels[#dels + 1] = { "DEL", prefix .. "bin", prefix .. "n" }
  local deleted = 0
  for _, n in ipairs(db:pipeline(dels)) do deleted = deleted + n end
  assert(deleted == count + 2, "deleted " .. deleted)

  print(("ok: %d SET + %d GET pipelined in %.3f s, all replies right; status, integer, " ..
    "bulk, null, array and error replies parsed; %d keys deleted"):format(count, count, elapsed,
    deleted))
end

if arg and arg[0] and debug.getinfo(1, "S").source == "@" .. arg[0] then
  main(...)
else
  return redis
end
