-- A child raising a real error from its clean-up while the task running its scope was
-- cancelled (or an async.timeout around the scope expired): the scope raised only the
-- cancellation and the error vanished, exit 0. The real error wins (issue 19).
local runner = async.spawn(function()
  return async.scope(function(s)
    s:spawn(function() pcall(async.sleep, 10); error("child cleanup", 0) end)
    async.sleep(10)
  end)
end)
async.sleep(0.01)
runner:cancel()
local ok, err = pcall(runner.await, runner)
assert(not ok and err == "child cleanup", tostring(err))
ok, err = pcall(async.timeout, 0.01, async.scope, function(s)
  s:spawn(function() pcall(async.sleep, 10); error("child cleanup", 0) end)
  async.sleep(10)
end)
assert(not ok and err == "child cleanup", tostring(err))
