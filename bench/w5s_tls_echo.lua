-- W5s TLS echo: W5 over TLS. An echo server and C clients as tasks of one loop on
-- 127.0.0.1; each client does R round trips of a 64-byte message, trusting CERT (a
-- self-signed certificate for localhost) as its CA. Same shape as the Node and uvloop peers.
-- usage: asyncrun w5s_tls_echo.lua C R CERT KEY
local C = tonumber(arg[1]) or 100
local R = tonumber(arg[2]) or 1000
local CERT, KEY = assert(arg[3], "CERT expected"), assert(arg[4], "KEY expected")
local MSG = string.rep("x", 64)

-- the handler runs after the server's handshake; asyncrun closes the stream after it
local server = assert(async.tls.listen("127.0.0.1", 0, function(s)
  while true do
    local data = s:read_some(65536)
    if not data then break end
    s:write(data)
  end
end, { cert = CERT, key = KEY }))
local port = server:port()

local function client()
  local s = assert(async.tls.connect("127.0.0.1", port, { servername = "localhost", cafile = CERT }))
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
