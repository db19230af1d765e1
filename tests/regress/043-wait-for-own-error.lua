-- wait_for at its deadline raised Timeout although the task raised its own error while
-- being cancelled, and that error was then reported as "failed and nobody awaited it"
-- (exit 1). wait_for raises the task's error, which counts as retrieved (issue 19).
local t = async.spawn(function() pcall(async.sleep, 10); error("own error", 0) end)
local ok, err = pcall(async.wait_for, t, 0.01)
assert(not ok and err == "own error", tostring(err))
t = nil
collectgarbage()
async.sleep(0) -- the run must still end 0: nothing is reported
