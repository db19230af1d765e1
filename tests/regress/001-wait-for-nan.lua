-- wait_for(task, nan) named async.timeout in its error and cancelled the task (found by
-- tests/fuzz/api_fuzz.lua): it must be wait_for's argument error, the task untouched.
local t = async.spawn(function() async.sleep(0.01) return "ok" end)
local ok, err = pcall(async.wait_for, t, 0 / 0)
assert(not ok and err:find("bad argument #2 to 'wait_for'", 1, true), err)
assert(t:await() == "ok" and t:status() == "done")
