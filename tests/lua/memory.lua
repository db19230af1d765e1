-- Finished tasks are collected: memory stays bounded over many tasks
local T = require "testlib"

local N = tonumber(os.getenv("ASYNCRUN_TEST_TASKS")) or 200000

T.case("spawning and awaiting many tasks one after the other keeps memory bounded", function()
  local t0 = async.now()
  local sum = 0
  local peak = 0
  for i = 1, N do
    local t = async.spawn(function(x) return x end, i)
    sum = sum + t:await()
    if i % 20000 == 0 then
      local kb = collectgarbage("count")
      if kb > peak then peak = kb end
    end
  end
  T.eq(sum, N * (N + 1) // 2, "every task ran once")
  collectgarbage()
  collectgarbage()
  local kb = collectgarbage("count")
  io.stderr:write(string.format("memory.lua: %d tasks in %.2f s, heap %.0f KB (peak sample %.0f KB)\n",
    N, async.now() - t0, kb, peak))
  T.ok(kb < 10 * 1024, "heap after the loop is " .. kb .. " KB, expected < 10 MB")
  T.ok(peak < 64 * 1024, "heap during the loop stayed bounded (" .. peak .. " KB)")
  T.eq(#async.tasks(), 1, "only main is live")
end)

T.case("tasks that sleep and are never referenced are collected too", function()
  local done = 0
  for round = 1, 20 do
    for _ = 1, 500 do
      async.spawn(function() async.sleep(0); done = done + 1 end)
    end
    async.sleep(0)
    async.sleep(0)
    if round % 5 == 0 then collectgarbage() end
  end
  async.sleep(0.001)
  T.eq(done, 20 * 500, "every unreferenced task ran")
  collectgarbage()
  collectgarbage()
  T.ok(collectgarbage("count") < 10 * 1024, "heap bounded: " .. collectgarbage("count") .. " KB")
  T.eq(#async.tasks(), 1, "only main is live")
end)

T.case("cancelled and failed tasks are collected too", function()
  for _ = 1, 5000 do
    local c = async.spawn(function() async.sleep(1) end)
    c:cancel()
    pcall(c.await, c)
    local f = async.spawn(function() error({}) end)
    pcall(f.await, f)
  end
  collectgarbage()
  collectgarbage()
  T.ok(collectgarbage("count") < 10 * 1024, "heap bounded: " .. collectgarbage("count") .. " KB")
end)

T.finish()
