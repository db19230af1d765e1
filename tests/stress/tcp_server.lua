-- The server half of the TCP stress (started by tcp.lua): listens on 127.0.0.1, prints its
-- port, echoes one line per connection and keeps each connection open until its client
-- closes it. After N connections have ended it prints what it saw and exits.
-- usage: asyncrun tcp_server.lua N
local C = dofile((arg[0]:match("^(.*/)") or "./") .. "common.lua")
local N = math.tointeger(tonumber(arg[1]))
local open, peak, handled, echoed = 0, 0, 0, 0
local all_done = async.event()
local server = assert(async.tcp.listen("127.0.0.1", 0, function(s)
  open = open + 1
  if open > peak then peak = open end
  local line = s:read("l")
  if line then
    s:write(line, "\n")
    echoed = echoed + 1
  end
  s:read("a") -- until the client closes
  open = open - 1
  handled = handled + 1
  if handled == N then all_done:set() end
end))
print(server:port())
io.stdout:flush()
async.timeout(240, all_done.wait, all_done)
server:close()
C.check(echoed == N, "server echoed %d of %d", echoed, N)
C.finish("tcp server", ("%d connections handled, %d open at once, %d echoed"):format(handled, peak, echoed))
