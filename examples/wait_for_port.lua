#!/usr/bin/env asyncrun
-- Wait until a TCP port accepts connections: for test suites that start a server in the
-- background and must not talk to it too early.
--
--   asyncrun examples/wait_for_port.lua HOST PORT [SECONDS]
--
-- Tries to connect, backing off from 50 ms to 0.5 s between attempts, until a connection
-- succeeds or SECONDS (default 10) have passed. Exit status: 0 as soon as the port is open
-- (nothing printed), 1 with a message on standard error at the deadline, 2 on a usage error.
--
--   python3 -m http.server 8000 & asyncrun examples/wait_for_port.lua 127.0.0.1 8000 5

local host, port, seconds = ...
port = math.tointeger(tonumber(port))
seconds = tonumber(seconds or 10)
if not host or not port or port < 1 or port > 65535 or not seconds or seconds <= 0 then
  io.stderr:write("usage: wait_for_port.lua HOST PORT [SECONDS]\n")
  os.exit(2)
end

local last_error
local ok, err = pcall(async.timeout, seconds, function()
  local delay = 0.05
  while true do
    local conn, msg = async.tcp.connect(host, port)
    if conn then
      conn:close()
      return
    end
    last_error = msg
    async.sleep(delay)
    delay = math.min(delay * 1.5, 0.5)
  end
end)
if not ok then
  if not async.is_timeout(err) then error(err, 0) end -- Ctrl-C and real errors propagate
  io.stderr:write(string.format("wait_for_port: %s:%d not open after %g s (%s)\n",
                                host, port, seconds, last_error or "no answer"))
  os.exit(1)
end
