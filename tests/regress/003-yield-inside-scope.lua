-- A generator yielding from inside async.timeout left the scope on its task: the task's later
-- sleeps raised Timeout, and the scope's timer fired on freed memory (ASan). Yielding there
-- now raises, and nothing leaks into the task.
local gen = coroutine.wrap(function() async.timeout(0.01, function() coroutine.yield(1) end) end)
local ok, err = pcall(gen)
assert(not ok and tostring(err):find("attempt to yield inside async.timeout", 1, true), err)
gen = nil
collectgarbage()
assert(pcall(async.sleep, 0.03))
