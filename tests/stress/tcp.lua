-- 10,000 concurrent TCP connections on 127.0.0.1: a server process (tcp_server.lua, started
-- here with async.exec) and this client process, so that each needs N descriptors, not 2N.
-- Every client connects, sends a line, reads the echo, then waits until all N are
-- connected at once before closing. Connecting is limited to 256 in flight (the listen
-- backlog is 511); the connections themselves all stay open together.
-- usage: asyncrun tcp.lua [N]
local dir = arg[0]:match("^(.*/)") or "./"
local C = dofile(dir .. "common.lua")
local N = math.tointeger(tonumber(arg[1] or "10000"))
local asyncrun = arg[-1]
local srv = assert(async.exec({ asyncrun, dir .. "tcp_server.lua", tostring(N) }, { stdout = "pipe" }))
local port = math.tointeger(tonumber(srv.stdout:read("l")))
C.check(port ~= nil, "no port from the server")
local connecting = async.semaphore(256)
local all_open = async.event()
local open, peak, ok_echo, failures = 0, 0, 0, {}
local t0 = async.now()
local clients = {}
for i = 1, N do
  clients[i] = async.spawn(function()
    local s, err
    do
      local _ <close> = connecting:acquire()
      s, err = async.tcp.connect("127.0.0.1", port)
      if not s then
        failures[#failures + 1] = "connect: " .. tostring(err)
        return
      end
      open = open + 1
      if open > peak then peak = open end
      if open == N then all_open:set() end
      s:write("hello " .. i .. "\n")
      local back = s:read("l")
      if back == "hello " .. i then ok_echo = ok_echo + 1 else failures[#failures + 1] = "echo: " .. tostring(back) end
    end
    all_open:wait()
    s:close()
  end)
end
local ok, e = pcall(async.timeout, 240, async.gather, clients)
C.check(ok, "clients: %s", tostring(e))
local t_all = async.now() - t0
local server_report = srv.stdout:read("a")
local code = srv:wait()
io.write(server_report)
C.check(code == 0, "the server exited %s", tostring(code))
C.check(peak == N, "%d connections open at once, expected %d", peak, N)
C.check(ok_echo == N, "%d of %d echoes right (%s)", ok_echo, N, table.concat(failures, ", ", 1, math.min(5, #failures)))
C.finish("tcp client", ("%d connections, %d open at once, %d echoes in %.2f s"):format(N, peak, ok_echo, t_all))
