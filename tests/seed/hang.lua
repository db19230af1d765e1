-- Planted lost wake-up: the consumer checks the flag, then suspends (a log line) before it
-- registers for the notification; a producer that runs in that window notifies nobody,
-- and a heartbeat keeps the loop alive: the run hangs (--timeout=1 ends it with 124).
local flag, waiters = false, {}
local heartbeat = async.spawn(function()
  while true do async.sleep(0.05) end
end)
local consumer = async.spawn(function()
  if not flag then
    async.sleep(0) -- say, a log line written between the check and the wait
    local f = async.future()
    waiters[#waiters + 1] = f
    f:await()
  end
end)
local producer = async.spawn(function()
  async.sleep(0)
  flag = true
  for _, f in ipairs(waiters) do f:set() end
  waiters = {}
end)
async.gather({consumer, producer})
heartbeat:cancel()
print("ok")
