-- W5 TCP echo: an echo server and C clients as tasks of one loop on 127.0.0.1;
-- each client does R round trips of a 64-byte message (asyncrun sets
-- TCP_NODELAY on every TCP socket). Same shape as the asyncio peer (streams:
-- one task per connection on both sides; the server echoes whatever arrives).
-- usage: asyncrun w5_tcp_echo.lua [C=100] [R=1000]
local C = tonumber(arg[1]) or 100
local R = tonumber(arg[2]) or 1000
local MSG = string.rep("x", 64)

-- the handler runs in a task per connection; asyncrun closes the stream after it
local server = assert(async.tcp.listen("127.0.0.1", 0, function(s)
  while true do
    local data = s:read_some(65536)
    if not data then break end
    s:write(data)
  end
end))
local port = server:port()

local function client()
  local s = assert(async.tcp.connect("127.0.0.1", port))
  for _ = 1, R do
    assert(s:write(MSG))
    assert(s:read(64) == MSG, "bad echo")
  end
  s:close()
end

local clients = {}
for i = 1, C do
  clients[i] = async.spawn(client)
end
async.gather(clients)
server:close()
