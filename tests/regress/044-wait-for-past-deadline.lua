-- wait_for(t, 0) or a negative deadline let a task that had not started run its first step
-- before cancelling it. It is cancelled before its first step now (issue 19).
local started = false
local t = async.spawn(function() started = true end)
local ok, err = pcall(async.wait_for, t, 0)
assert(not ok and async.is_timeout(err), tostring(err))
local t2 = async.spawn(function() started = true end)
ok, err = pcall(async.wait_for, t2, -1)
assert(not ok and async.is_timeout(err), tostring(err))
async.sleep(0)
assert(not started and t:status() == "cancelled" and t2:status() == "cancelled")
