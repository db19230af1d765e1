-- A line echo server: every line a client sends comes back; "quit" ends that client.
--
--   asyncrun examples/echo_server.lua [PORT [HOST]]
--
-- PORT 0 (the default) lets the kernel choose; HOST defaults to 127.0.0.1. Once it accepts
-- connections it prints "listening on HOST PORT". SIGTERM stops it gracefully: it stops
-- accepting, lets the connected clients finish, prints how many it served and exits 0
-- (Ctrl-C still cancels everything at once, exit 130). Try it with
--   nc 127.0.0.1 PORT        or        socat - TCP:127.0.0.1:PORT
local port = math.tointeger(tonumber(arg[1] or 0)) or error("bad port: " .. arg[1], 0)
local host = arg[2] or "127.0.0.1"

local served, active = 0, 0
local idle = async.event()
idle:set()

local server = assert(async.tcp.listen(host, port, function(client)
  served, active = served + 1, active + 1
  idle:clear()
  -- read("l") returns nil (and a message) when the client leaves, even by a reset;
  -- client:lines() would raise then, as file:lines does
  while true do
    local line = client:read("l")
    if not line then break end
    line = line:gsub("\r$", "")
    if line == "quit" then break end
    if not client:write(line, "\n") then break end -- the client left
  end
  active = active - 1
  if active == 0 then idle:set() end
end))

print(("listening on %s %d"):format(host, server:port()))
io.stdout:flush()

local term = async.signal("TERM")
term:wait()
server:close()
idle:wait()
print(("stopped: served %d connection(s)"):format(served))
