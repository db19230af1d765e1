-- coroutine.close of the task's own thread, called from a coroutine the task resumed, said
-- "cannot close a task's own thread" where Lua says "cannot close a normal coroutine" of
-- its main thread (Lua 5.4.4's testes/coroutine.lua line 151). Another task's thread is
-- still refused as the scheduler's, and the running thread as running.
local main = coroutine.running()
coroutine.wrap(function()
  local ok, msg = pcall(coroutine.close, main)
  assert(not ok and msg:find("cannot close a normal coroutine", 1, true), msg)
end)()
local ok, msg = pcall(coroutine.close, main)
assert(not ok and msg:find("running", 1, true), msg)
local other
local t = async.spawn(function() other = coroutine.running() async.sleep(0) end)
async.sleep(0)
ok, msg = pcall(coroutine.close, other)
assert(not ok and msg:find("cannot close a task's own thread", 1, true), msg)
t:await()
