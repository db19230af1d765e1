#!/usr/bin/env asyncrun
-- A line-based TCP chat room on 127.0.0.1.
--
--   asyncrun examples/chat_server.lua [PORT]     (PORT 0, the default, picks a free one)
--   nc 127.0.0.1 PORT                            (in two or more other terminals)
--
-- Prints "listening on PORT" once it accepts connections, then a line per arrival and
-- departure. A client's first line is its name; the server answers "welcome NAME (K online)",
-- and every later line is sent to the other clients as "NAME: text". Arrivals and departures
-- are announced to the others as "* NAME joined" and "* NAME left". Runs until interrupted.
--
-- Each client has its own writer task fed by a bounded queue, so a client that stops reading
-- cannot stall the others: once its queue is full, lines for it are dropped.

local port = math.tointeger(tonumber(arg[1] or 0))
if not port or port < 0 or port > 65535 then
  io.stderr:write("usage: chat_server.lua [PORT]\n")
  os.exit(2)
end
io.stdout:setvbuf("line") -- the log may go to a pipe: keep it live

local clients = {} -- client -> true; a client is { name = ..., outbox = queue }
local online = 0

local function broadcast(from, line)
  for c in pairs(clients) do
    if c ~= from then c.outbox:try_put(line) end -- full or closed: dropped
  end
end

local function session(stream)
  local name = stream:read("l")
  name = name and name:gsub("%s+$", "") -- nc on a terminal may send \r\n
  if not name or name == "" then return end
  local me = { name = name, outbox = async.queue(100) }
  async.scope(function(s)
    s:spawn(function() -- this client's writer
      for line in me.outbox:iter() do
        if not stream:write(line, "\n") then break end -- gone: the reader sees it too
      end
    end)
    clients[me], online = true, online + 1
    print(name .. " joined")
    me.outbox:put(string.format("welcome %s (%d online)", name, online))
    broadcast(me, "* " .. name .. " joined")
    while true do
      -- nil at the end and on a reset (where lines() would raise, as file:lines does)
      local line = stream:read("l")
      if not line then break end
      broadcast(me, name .. ": " .. line:gsub("\r$", ""))
      async.sleep(0) -- reading buffered lines does not suspend: let the writers run
    end
    clients[me], online = nil, online - 1
    print(name .. " left")
    broadcast(me, "* " .. name .. " left")
    me.outbox:close() -- the writer sends what is queued, then ends
  end)
end

local server = assert(async.tcp.listen("127.0.0.1", port, session))
print("listening on " .. server:port())
server:wait()
